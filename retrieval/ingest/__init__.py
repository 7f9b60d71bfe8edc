"""Agencies' own procedures as Word (.docx) and PDF files: metadata, numbered sections, warnings.

Entry point for retrieval.documents: `parse_office_file(path) -> OfficeDocument`, or IngestError
naming the file and the reason it cannot be read (a scanned image PDF, a damaged file, a bad
sidecar). Metadata comes from the document's own header (header table, page header, first page:
'Mã số', 'Lần ban hành' / 'Phiên bản', 'Ngày hiệu lực', the title) and, for what the document
does not state, from a sidecar NAME.yaml beside it (id, kind, source, iso_refs, status …).

Section lines are paragraph numbers for Word files (table rows count as paragraphs) and page
numbers for PDFs: what an admin can find in the file.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from retrieval.documents import RawSection
from retrieval.ingest import legacy_encodings as legacy
from retrieval.ingest.repair import join_hyphenated, merge_wrapped_lines
from retrieval.ingest.structure import MAX_TITLE_WORDS, find_title, fold, header_lines, metadata_fields, split_sections, tidy_title

# Admin-facing notes (the reindex summary lists them per file), kept together.
MSG = {
    "converted": "đã chuyển {n} {unit} từ bảng mã {encoding} sang Unicode; nên kiểm tra lại chính tả",
    "issued_as_effective": "không thấy 'Ngày hiệu lực', dùng ngày ban hành {date}",
    "sidecar_differs": "{field} trong tệp là '{document}', tệp kèm {sidecar} ghi '{value}': dùng giá trị trong tệp",
    "title_from_name": "không tìm thấy tên quy trình trong tệp, tạm dùng tên tệp '{title}'",
    "no_headings": "không thấy đề mục đánh số (1., 1.1, Bước 1 …); cả tệp là một đoạn",
    "bad_sidecar": "tệp kèm {name} không đọc được: {detail}",
    "sidecar_not_map": "tệp kèm {name} phải là các cặp 'khóa: giá trị'",
    "unsupported": "định dạng {suffix} không hỗ trợ",
    "missing_fields": "không tìm thấy {fields} trong phần đầu tệp (bảng tiêu đề, đầu trang); "
    "hãy ghi vào tệp hoặc thêm tệp kèm {sidecar} với {keys}",
}
ENCODING_NAMES = {legacy.TCVN3: "TCVN3 (ABC, phông .VnTime)", legacy.VNI: "VNI (phông VNI-Times)"}
KIND_BY_FOLDER = {"procedures": "procedure", "regulations": "regulation", "news": "news", "standard": "standard"}
METADATA_KEYS = ("code", "version", "effective_date")
# Preamble text shorter than this is letterhead and signatures, not worth a passage of its own.
MIN_INTRO_WORDS = 15
_FIELD_NAMES = {"code": "Mã số", "version": "Lần ban hành", "effective_date": "Ngày hiệu lực", "title": "Tên"}


class IngestError(Exception):
    """A file whose text cannot be extracted; `reason` says why in the admin's language."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


@dataclass(frozen=True)
class OfficeDocument:
    """What retrieval.documents needs from an office file."""

    metadata: dict
    sections: tuple[RawSection, ...]
    warnings: tuple[str, ...] = ()
    encoding: str = legacy.UNICODE  # what the text was typed in


def parse_office_file(path: Path | str) -> OfficeDocument:
    """Read a .docx or .pdf procedure; IngestError when its text cannot be extracted."""
    from retrieval.ingest.docx import DocxReadError, read_docx
    from retrieval.ingest.pdf import PdfReadError, read_pdf

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".docx":
            extracted = read_docx(path)
        elif suffix == ".pdf":
            extracted = read_pdf(path)
        else:
            raise IngestError(path, MSG["unsupported"].format(suffix=suffix or path.name))
    except (DocxReadError, PdfReadError) as exc:
        raise IngestError(path, str(exc)) from None
    sidecar = _read_sidecar(path)
    warnings = list(extracted.warnings)
    if extracted.converted_blocks:
        name = ENCODING_NAMES.get(extracted.encoding, extracted.encoding)
        unit = "dòng" if suffix == ".pdf" else "đoạn"
        warnings.append(MSG["converted"].format(n=extracted.converted_blocks, unit=unit, encoding=name))

    blocks = list(extracted.blocks)
    sections, first_heading = split_sections(blocks, warnings)
    preamble = list(extracted.header_blocks) + blocks[:first_heading]
    lines = header_lines(preamble)
    found: dict[str, str] = {}
    for line in lines:
        for key, value in metadata_fields(line).items():
            found.setdefault(key, value)
    title = find_title(lines)

    metadata = _merge_metadata(path, found, title, extracted.title, sidecar, warnings)
    if not metadata.get("effective_date") and found.get("issued_date"):
        metadata["effective_date"] = found["issued_date"]
        warnings.append(MSG["issued_as_effective"].format(date=_vn_date(found["issued_date"])))
    missing = [key for key in METADATA_KEYS if not metadata.get(key)]
    if metadata["kind"] == "procedure" and missing:
        raise IngestError(path, MSG["missing_fields"].format(
            fields=", ".join(f"'{_FIELD_NAMES[k]}'" for k in missing), sidecar=path.with_suffix(".yaml").name,
            keys=", ".join(missing)))
    if suffix == ".pdf":
        sections = [s._replace(text=_rewrap(s.text)) for s in sections]
    sections = _drop_letterhead(sections)
    if not any(s.number for s in sections):
        warnings.append(MSG["no_headings"])
    if not metadata.get("iso_refs"):
        refs = _iso_refs(" \n".join(s.text for s in sections))
        if refs:
            metadata["iso_refs"] = refs
    return OfficeDocument(metadata=metadata, sections=tuple(sections), warnings=tuple(warnings),
                          encoding=extracted.encoding)


# --- metadata ---------------------------------------------------------------------------------


def _read_sidecar(path: Path) -> dict:
    for candidate in (path.with_suffix(".yaml"), path.with_suffix(".yml")):
        if not candidate.exists():
            continue
        try:
            # BaseLoader keeps '03' a string, as the corpus loader does.
            data = yaml.load(candidate.read_text(encoding="utf-8-sig"), Loader=yaml.BaseLoader)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise IngestError(path, MSG["bad_sidecar"].format(name=candidate.name, detail=str(exc).splitlines()[0])) from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise IngestError(path, MSG["sidecar_not_map"].format(name=candidate.name))
        return {**data, "_name": candidate.name}
    return {}


def slug(text: str) -> str:
    """'QT-05 Tiếp nhận hồ sơ' -> 'qt-05-tiep-nhan-ho-so' (a valid corpus id)."""
    ascii_text = fold(unicodedata.normalize("NFC", text))
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-") or "tai-lieu"


def _vn_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def _same(key: str, a: str, b: str) -> bool:
    if key == "effective_date":
        from retrieval.documents import parse_date

        return (parse_date(a) or a) == (parse_date(b) or b)
    if key == "version":
        return a.lstrip("0") == b.lstrip("0")
    return fold(a).strip() == fold(b).strip()


def _merge_metadata(path: Path, found: dict, title: str, file_title: str, sidecar: dict, warnings: list[str]) -> dict:
    """The document's own header wins; the sidecar fills what it does not say."""
    sidecar_name = sidecar.pop("_name", "")
    metadata = {k: v for k, v in sidecar.items() if v not in (None, "")}
    for key in METADATA_KEYS:
        if not found.get(key):
            continue
        given = str(metadata.get(key, "")).strip()
        if given and not _same(key, given, found[key]):
            warnings.append(MSG["sidecar_differs"].format(
                field=_FIELD_NAMES[key], document=found[key], sidecar=sidecar_name, value=given))
        metadata[key] = found[key]
    code = str(metadata.get("code", ""))
    if title:
        metadata["title"] = tidy_title(title, code)
    elif not metadata.get("title"):
        usable = file_title and file_title.lower() not in ("untitled", "anonymous") and "microsoft" not in file_title.lower()
        if usable:
            metadata["title"] = tidy_title(file_title, code)
        else:
            metadata["title"] = tidy_title(re.sub(r"[_\-]+", " ", path.stem), code) or path.stem
            warnings.append(MSG["title_from_name"].format(title=metadata["title"]))
    metadata.setdefault("id", slug(path.stem))
    metadata.setdefault("kind", KIND_BY_FOLDER.get(path.parent.name.lower(), "procedure"))
    metadata.setdefault("source", path.name)
    metadata.setdefault("status", "active")
    return metadata


_ISO_REF_RE = re.compile(r"(?:điều|mục|khoản|clause)\s+(\d{1,2}(?:\.\d{1,2}){1,3})", re.IGNORECASE)


def _iso_refs(text: str) -> list[str]:
    """Clause numbers cited next to the standard's name ('điều 7.5.3 của TCVN ISO 9001:2015')."""
    refs = []
    for line in text.split("\n"):
        if "9001" not in line:
            continue
        for match in _ISO_REF_RE.finditer(line):
            refs.append(match.group(1))
    return list(dict.fromkeys(refs))


# --- sections ---------------------------------------------------------------------------------


def _rewrap(text: str) -> str:
    """PDF lines are printed lines; join words cut by a hyphen and lines that continue a sentence."""
    return "\n".join(merge_wrapped_lines(join_hyphenated(text.split("\n"))))


_LETTERHEAD_RE = re.compile(r"^(cong hoa xa hoi|doc lap\s*-|uy ban nhan dan|ubnd)")
# First cells of the approval block (who drafted, reviewed, approved; names and signatures).
_APPROVAL_CELLS = {"ho ten", "ho va ten", "chu ky", "chuc vu", "trach nhiem", "nguoi soan thao", "nguoi bien soan",
                   "nguoi kiem tra", "nguoi xem xet", "nguoi phe duyet", "soan thao", "xem xet", "phe duyet"}


def _drop_letterhead(sections: list[RawSection]) -> list[RawSection]:
    """Remove header fields, the title and letterhead from the text before the first heading."""
    if not sections or sections[0].number:
        return sections
    intro = sections[0]
    kept = []
    for line in intro.text.split("\n"):
        plain = line.strip()
        folded = fold(plain)
        if not plain or metadata_fields(plain) or _LETTERHEAD_RE.match(folded):
            continue
        if folded.startswith("quy trinh") and len(plain.split()) <= MAX_TITLE_WORDS:
            continue  # the title line ('QUY TRÌNH TIẾP CÔNG DÂN'); a sentence about the procedure stays
        cells = plain.split(" | ")
        if len(cells) > 1 and any(metadata_fields(cell) for cell in cells):
            continue  # the header table
        if len(cells) > 1 and fold(cells[0]).strip(" :") in _APPROVAL_CELLS:
            continue  # the approval block is signatures, not content
        kept.append(plain)
    text = "\n".join(kept)
    rest = sections[1:]
    if len(text.split()) < MIN_INTRO_WORDS:
        return rest
    return [intro._replace(text=text)] + rest
