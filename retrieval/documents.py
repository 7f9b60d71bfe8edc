"""Load the corpus folder into validated documents and citable passages.

Entry point: `load_corpus(corpus_dir) -> Corpus`, or `CorpusError` listing every problem as
`file:line: reason`. Markdown files and office files (through `retrieval.ingest`) are both turned
into (metadata, sections) first, so they share one validation and one passage builder.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import yaml

from retrieval.types import STANDARD_NAME, CorrespondenceRow, GlossaryEntry, NewClause, Passage

DOC_KINDS = ("standard", "regulation", "procedure", "faq", "news")
STATUSES = ("active", "superseded")
OFFICE_SUFFIXES = (".docx", ".pdf")
DEFAULT_CORRESPONDENCE_TITLE = "Bảng tương ứng điều khoản TCVN ISO 9001:2008 và TCVN ISO 9001:2015"

# Admin-facing reasons, kept together so the wording stays consistent.
MSG = {
    "bad_yaml": "YAML không hợp lệ: {detail}",
    "no_front_matter": "thiếu phần đầu YAML (front matter) giữa hai dòng '---'",
    "unclosed_front_matter": "phần đầu YAML không có dòng '---' kết thúc",
    "front_matter_not_map": "phần đầu YAML phải là các cặp 'khóa: giá trị'",
    "missing": "thiếu trường bắt buộc '{key}'",
    "bad_id": "id '{value}' không hợp lệ (chỉ dùng chữ, số, '-', '_', '.')",
    "unknown_kind": "kind '{value}' không hợp lệ (chọn một trong: {choices})",
    "bad_status": "status '{value}' không hợp lệ (active hoặc superseded)",
    "bad_date": "ngày '{value}' không hợp lệ (dùng YYYY-MM-DD hoặc DD/MM/YYYY)",
    "bad_clause": "số điều '{value}' không hợp lệ (ví dụ đúng: 7.5.3)",
    "duplicate_id": "id '{value}' trùng với {other}",
    "duplicate_section": "mục {value} xuất hiện hai lần (lần đầu ở dòng {other})",
    "empty_heading": "đề mục {value} không có nội dung",
    "no_sections": "không tìm thấy đề mục đánh số hay nội dung nào",
    "same_date_versions": "{code} có hai phiên bản đang hiệu lực cùng ngày {value} (xem {other}); "
    "hãy đặt status: superseded cho bản cũ",
    "unknown_yaml": "tệp YAML không đúng dạng nào đã biết (FAQ 'entries' có question/answer, "
    "bảng tương ứng 'rows', bảng thuật ngữ 'entries' có term/means)",
    "not_list": "'{key}' phải là một danh sách",
    "entry_not_map": "mỗi mục trong '{key}' phải là các cặp 'khóa: giá trị'",
    "kind_must_be": "kind phải là '{value}' trong tệp này",
    "unsupported": "định dạng chưa hỗ trợ ({detail}); tệp bị bỏ qua",
    "office_error": "không đọc được tệp: {detail}",
    "no_source": "thiếu trường 'source' (nguồn của nội dung)",
    "future_current": "{code}: phiên bản hiện hành có ngày hiệu lực {value} chưa tới",
    "unknown_2015_clause": "điều {value} của bản 2015 không có trong tài liệu tiêu chuẩn",
}


class CorpusError(Exception):
    """The corpus has problems; `problems` lists every one as 'file:line: reason'."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class DocumentInfo:
    """What reindex and admins need to know about one source document."""

    doc_id: str
    title: str
    kind: str
    path: str  # corpus-relative, '/'-separated
    content_hash: str  # sha256 of the file (and its sidecar)
    source: str = ""
    code: str = ""
    version: str = ""
    effective_date: str = ""
    status: str = "active"
    sections: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Corpus:
    """Everything loaded from the corpus folder, in a stable order."""

    documents: dict[str, DocumentInfo]
    passages: tuple[Passage, ...]
    correspondence: tuple[CorrespondenceRow, ...] = ()
    new_in_2015: tuple[NewClause, ...] = ()
    glossary: tuple[GlossaryEntry, ...] = ()
    warnings: tuple[str, ...] = ()
    file_hashes: dict[str, str] = field(default_factory=dict)  # every file read, corpus-relative

    @property
    def corpus_hash(self) -> str:
        digest = hashlib.sha256()
        for rel in sorted(self.file_hashes):
            digest.update(f"{rel}\0{self.file_hashes[rel]}\n".encode())
        return digest.hexdigest()


class RawSection(NamedTuple):
    """A section as found in a source file, before validation (also what retrieval.ingest yields)."""

    number: str  # "" for text before the first numbered heading
    title: str
    level: int
    text: str
    line: int


# --- YAML with line numbers -------------------------------------------------------------------


class _Map(dict):
    line = 1
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Seq(list):
    line = 1


def _from_node(node, line_offset: int):
    # BaseLoader keeps every scalar a string: "03" stays "03" and clause "7.10" never becomes 7.1.
    if isinstance(node, yaml.MappingNode):
        out = _Map()
        out.line = node.start_mark.line + 1 + line_offset
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = str(_from_node(key_node, line_offset))
            out.key_lines[key] = key_node.start_mark.line + 1 + line_offset
            out[key] = _from_node(value_node, line_offset)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = _Seq(_from_node(item, line_offset) for item in node.value)
        seq.line = node.start_mark.line + 1 + line_offset
        return seq
    return node.value


class _YamlProblem(Exception):
    def __init__(self, line: int, detail: str):
        self.line, self.detail = line, detail


def _load_yaml(text: str, first_line: int = 1):
    """Parse YAML keeping line numbers; `first_line` is the file line of the text's first line."""
    try:
        node = yaml.compose(text, Loader=yaml.BaseLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line if mark else 0) + first_line
        detail = str(exc.problem or exc.context or "cú pháp sai").strip()
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            detail += f" ({exc.context.strip()}, bắt đầu ở dòng {exc.context_mark.line + first_line})"
        raise _YamlProblem(line, detail) from None
    except yaml.YAMLError as exc:
        raise _YamlProblem(first_line, str(exc).splitlines()[0]) from None
    return None if node is None else _from_node(node, first_line - 1)


# --- small value checks -----------------------------------------------------------------------

_ID_RE = re.compile(r"^[\w][\w.\-]*$")
_CLAUSE_RE = re.compile(r"^\d{1,2}(?:\.\d{1,2})*$")


def parse_date(value: str) -> str | None:
    """'2024-03-01' or '01/03/2024' -> '2024-03-01'; None when it is not a real date."""
    value = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _as_list(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in re.split(r"[,;]", str(value)) if p.strip()]


def _clean(value) -> str:
    return unicodedata.normalize("NFC", str(value)).strip() if value is not None else ""


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


class _Problems:
    """Collects problems and warnings as 'file:line: reason'."""

    def __init__(self, corpus_dir: Path):
        self.corpus_dir = corpus_dir
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def where(self, rel: str, line: int) -> str:
        return f"{self.corpus_dir / rel}:{line}"

    def add(self, rel: str, line: int, msg: str, **kw) -> None:
        self.problems.append(f"{self.where(rel, line)}: {MSG[msg].format(**kw)}")

    def warn(self, rel: str, line: int, msg: str, **kw) -> str:
        message = f"{self.where(rel, line)}: {MSG[msg].format(**kw)}"
        self.warnings.append(message)
        return message


# --- metadata ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Meta:
    doc_id: str
    title: str
    kind: str
    source: str = ""
    code: str = ""
    version: str = ""
    effective_date: str = ""
    status: str = "active"
    iso_refs: tuple[str, ...] = ()
    line: int = 1


def _line_of(meta, key: str) -> int:
    return meta.line_of(key) if isinstance(meta, _Map) else int(getattr(meta, "line", 1) or 1)


def _check_clauses(values: list[str], rel: str, line: int, out: _Problems) -> tuple[str, ...]:
    good = []
    for value in values:
        value = value.rstrip(".")
        if _CLAUSE_RE.match(value):
            good.append(value)
        else:
            out.add(rel, line, "bad_clause", value=value)
    return tuple(dict.fromkeys(good))


def _check_meta(meta, rel: str, out: _Problems, *, fixed_kind: str | None = None) -> _Meta | None:
    """Validate document metadata (front matter, FAQ header or office metadata); None when unusable."""
    before = len(out.problems)
    if not isinstance(meta, dict):
        out.add(rel, _line_of(meta, ""), "front_matter_not_map")
        return None
    values = {k: _clean(v) if not isinstance(v, list) else v for k, v in meta.items()}
    for key in ("id", "title") + (() if fixed_kind else ("kind",)):
        if not values.get(key):
            out.add(rel, _line_of(meta, key), "missing", key=key)
    doc_id = values.get("id", "")
    if doc_id and not _ID_RE.match(doc_id):
        out.add(rel, _line_of(meta, "id"), "bad_id", value=doc_id)
    kind = values.get("kind", "") or (fixed_kind or "")
    if fixed_kind and kind != fixed_kind:
        out.add(rel, _line_of(meta, "kind"), "kind_must_be", value=fixed_kind)
    elif kind and kind not in DOC_KINDS:
        out.add(rel, _line_of(meta, "kind"), "unknown_kind", value=kind, choices=", ".join(DOC_KINDS))
    status = values.get("status", "") or "active"
    if status not in STATUSES:
        out.add(rel, _line_of(meta, "status"), "bad_status", value=status)
    if kind == "procedure":
        for key in ("code", "version", "effective_date"):
            if not values.get(key):
                out.add(rel, _line_of(meta, key), "missing", key=key)
    effective_date = ""
    if values.get("effective_date"):
        effective_date = parse_date(values["effective_date"]) or ""
        if not effective_date:
            out.add(rel, _line_of(meta, "effective_date"), "bad_date", value=values["effective_date"])
    iso_refs = _check_clauses(_as_list(meta.get("iso_refs")), rel, _line_of(meta, "iso_refs"), out)
    if len(out.problems) > before:
        return None
    if not values.get("source"):
        out.warn(rel, _line_of(meta, "id"), "no_source")
    return _Meta(
        doc_id=doc_id,
        title=values["title"],
        kind=kind,
        source=values.get("source", ""),
        code=values.get("code", ""),
        version=values.get("version", ""),
        effective_date=effective_date,
        status=status,
        iso_refs=iso_refs,
        line=_line_of(meta, "id"),
    )


# --- Markdown ---------------------------------------------------------------------------------

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# Clause numbers have at most two digits per part, so a heading starting with a year stays text.
_NUMBERED_RE = re.compile(
    r"^(?:(?:điều|mục|phần|clause|section)\s+)?(\d{1,2}(?:\.\d{1,2})*)\.?[:)]?\s+(\S.*)$", re.IGNORECASE
)


def split_numbered_heading(heading: str) -> tuple[str, str] | None:
    """'7.5.3 Kiểm soát…' -> ('7.5.3', 'Kiểm soát…'); '5. Trình tự' -> ('5', 'Trình tự'); else None."""
    match = _NUMBERED_RE.match(heading.strip())
    return (match.group(1), match.group(2).strip()) if match else None


def _split_front_matter(text: str, rel: str, out: _Problems):
    """(metadata, body lines, first body line number) or None when the front matter is unusable."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        out.add(rel, 1, "no_front_matter")
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            try:
                meta = _load_yaml("\n".join(lines[1:i]), first_line=2)
            except _YamlProblem as exc:
                out.add(rel, exc.line, "bad_yaml", detail=exc.detail)
                return None
            if not isinstance(meta, dict):
                out.add(rel, 2, "front_matter_not_map")
                return None
            return meta, lines[i + 1 :], i + 2
    out.add(rel, 1, "unclosed_front_matter")
    return None


def markdown_sections(body: list[str], first_line: int, doc_title: str) -> list[RawSection]:
    """Cut a Markdown body at numbered headings; other headings stay in the text."""
    sections: list[RawSection] = []
    number, title, level, start, text = "", "", 0, first_line, []
    in_fence = False

    for offset, line in enumerate(body):
        lineno = first_line + offset
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING_RE.match(line)
        if heading:
            numbered = split_numbered_heading(heading.group(2))
            if numbered:
                sections.append(RawSection(number, title, level, "\n".join(text).strip(), start))
                number, title = numbered
                level, start, text = len(heading.group(1)), lineno, []
                continue
            # A leading '# <document title>' repeats the front matter; keep it out of the text.
            if not sections and not number and not "".join(text).strip() and _fold(heading.group(2)) == _fold(doc_title):
                continue
            text.append(heading.group(2))
            continue
        text.append(line.rstrip())
    sections.append(RawSection(number, title, level, "\n".join(text).strip(), start))
    return sections


# --- passages ---------------------------------------------------------------------------------


def _build_passages(meta: _Meta, sections: list[RawSection], rel: str, out: _Problems) -> list[Passage]:
    """Turn a document's sections into passages; problems for empty or duplicate sections."""
    passages: list[Passage] = []
    problems_before = len(out.problems)
    first_line: dict[str, int] = {}
    titles: dict[str, str] = {}
    sections = [RawSection(*s) for s in sections]
    for idx, (number, title, _level, text, line) in enumerate(sections):
        number = str(number).strip().rstrip(".")
        title = _clean(title)
        text = _clean(text)
        if not number:
            if text:
                passages.append(_passage(meta, "", (meta.title,), text, rel, line, section_id="intro"))
            continue
        if number in first_line:
            out.add(rel, line, "duplicate_section", value=number, other=first_line[number])
            continue
        first_line[number] = line
        titles[number] = title
        if not text:
            has_child = any(str(s.number).startswith(number + ".") for s in sections[idx + 1 :])
            if not has_child:
                out.add(rel, line, "empty_heading", value=f"{number} {title}".strip())
            continue
        parts = number.split(".")
        ancestors = [titles[p] for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in titles]
        passages.append(_passage(meta, number, (meta.title, *ancestors, title), text, rel, line))
    if not passages and len(out.problems) == problems_before:
        out.add(rel, meta.line, "no_sections")
    return passages


def _passage(meta: _Meta, section: str, heading_path, text: str, rel: str, line: int, section_id: str = "") -> Passage:
    is_standard = meta.kind == "standard"
    return Passage(
        id=f"{meta.doc_id}#{section_id or section}",
        doc_id=meta.doc_id,
        doc_title=meta.title,
        kind=meta.kind,
        text=text,
        section=section,
        heading_path=tuple(heading_path),
        clause=section if is_standard else "",
        iso_refs=((section,) if section else ()) if is_standard else meta.iso_refs,
        code=meta.code,
        version=meta.version,
        effective_date=meta.effective_date,
        status=meta.status,
        source=meta.source,
        source_path=rel,
        source_line=line,
    )


# --- YAML documents ---------------------------------------------------------------------------


def _entries(data: _Map, key: str, rel: str, out: _Problems) -> list[_Map]:
    items = data.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        out.add(rel, data.line_of(key), "not_list", key=key)
        return []
    good = []
    for item in items:
        if isinstance(item, dict):
            good.append(item)
        else:
            out.add(rel, getattr(items, "line", 1), "entry_not_map", key=key)
    return good


def _faq_passages(data: _Map, rel: str, out: _Problems) -> tuple[_Meta | None, list[Passage]]:
    meta = _check_meta(data, rel, out, fixed_kind="faq")
    passages, seen = [], {}
    for entry in _entries(data, "entries", rel, out):
        missing = [k for k in ("id", "question", "answer") if not _clean(entry.get(k))]
        for key in missing:
            out.add(rel, entry.line_of(key), "missing", key=key)
        entry_id = _clean(entry.get("id"))
        if entry_id and not _ID_RE.match(entry_id):
            out.add(rel, entry.line_of("id"), "bad_id", value=entry_id)
            continue
        if entry_id in seen:
            out.add(rel, entry.line, "duplicate_section", value=entry_id, other=seen[entry_id])
            continue
        iso_refs = _check_clauses(_as_list(entry.get("iso_refs")), rel, entry.line_of("iso_refs"), out)
        if missing or meta is None:
            continue
        seen[entry_id] = entry.line
        question, answer = _clean(entry["question"]), _clean(entry["answer"])
        passages.append(
            Passage(
                id=f"{meta.doc_id}#{entry_id}",
                doc_id=meta.doc_id,
                doc_title=meta.title,
                kind="faq",
                text=f"{question}\n{answer}",
                section=entry_id,
                heading_path=(meta.title, question),
                iso_refs=iso_refs,
                source=_clean(entry.get("source")) or meta.source,
                source_path=rel,
                source_line=entry.line,
            )
        )
    return meta, passages


def correspondence_text(row: CorrespondenceRow) -> str:
    """The readable sentence a correspondence passage carries."""
    head = f"Điều {row.clause_2008} {row.title_2008} (TCVN ISO 9001:2008)".replace("  ", " ")
    if row.clauses_2015:
        body = f"{head} tương ứng với điều {', '.join(row.clauses_2015)} của {STANDARD_NAME}."
    else:
        body = f"{head} không có điều tương ứng trực tiếp trong {STANDARD_NAME}."
    return f"{body} {row.note}".strip()


def new_clause_text(item: NewClause) -> str:
    body = f"Điều {item.clause} {item.title} là điều mới hoặc lần đầu được nêu thành điều riêng trong {STANDARD_NAME}."
    return f"{body} {item.note}".strip()


def _correspondence(data: _Map, rel: str, out: _Problems):
    """(meta, rows, new clauses, passages) from a correspondence table file."""
    # The table needs no header; the file name and a standard title stand in for a missing id/title.
    doc_id = _clean(data.get("id")) or Path(rel).stem
    title = _clean(data.get("title")) or DEFAULT_CORRESPONDENCE_TITLE
    if not _ID_RE.match(doc_id):
        out.add(rel, data.line_of("id"), "bad_id", value=doc_id)
    meta = _Meta(doc_id=doc_id, title=title, kind="correspondence", source=_clean(data.get("source")), line=data.line)
    rows, news, passages, seen = [], [], [], {}

    def add_passage(section: str, heading: str, text: str, refs: tuple[str, ...], line: int) -> None:
        if section in seen:
            out.add(rel, line, "duplicate_section", value=section, other=seen[section])
            return
        seen[section] = line
        passages.append(
            Passage(
                id=f"{doc_id}#{section}",
                doc_id=doc_id,
                doc_title=title,
                kind="correspondence",
                text=text,
                section=section,
                heading_path=(title, heading),
                iso_refs=refs,
                source=meta.source,
                source_path=rel,
                source_line=line,
            )
        )

    for entry in _entries(data, "rows", rel, out):
        clause = _clean(entry.get("clause_2008")).rstrip(".")
        if not clause:
            out.add(rel, entry.line, "missing", key="clause_2008")
            continue
        if not _CLAUSE_RE.match(clause):
            out.add(rel, entry.line_of("clause_2008"), "bad_clause", value=clause)
            continue
        refs = _check_clauses(_as_list(entry.get("clauses_2015")), rel, entry.line_of("clauses_2015"), out)
        row = CorrespondenceRow(clause, _clean(entry.get("title_2008")), refs, _clean(entry.get("note")))
        rows.append(row)
        heading = f"Điều {clause} {row.title_2008} (bản 2008)".replace("  ", " ")
        add_passage(f"2008-{clause}", heading, correspondence_text(row), refs, entry.line)
    for entry in _entries(data, "new_in_2015", rel, out):
        clause = _clean(entry.get("clause")).rstrip(".")
        if not clause or not _CLAUSE_RE.match(clause):
            out.add(rel, entry.line_of("clause"), "bad_clause" if clause else "missing", key="clause", value=clause)
            continue
        item = NewClause(clause, _clean(entry.get("title")), _clean(entry.get("note")))
        news.append(item)
        heading = f"Điều {clause} {item.title} (mới trong bản 2015)".replace("  ", " ")
        add_passage(f"2015-new-{clause}", heading, new_clause_text(item), (clause,), entry.line)
    return meta, rows, news, passages


def _glossary(data, rel: str, out: _Problems) -> list[GlossaryEntry]:
    items = data if isinstance(data, list) else _entries(data, "entries", rel, out)
    entries = []
    for item in items:
        if not isinstance(item, dict):
            out.add(rel, getattr(items, "line", 1), "entry_not_map", key="entries")
            continue
        term = _clean(item.get("term"))
        raw_means = item.get("means")
        means = tuple(m for m in (_clean(v) for v in (raw_means if isinstance(raw_means, list) else [raw_means])) if m)
        if not term:
            out.add(rel, item.line, "missing", key="term")
        if not means:
            out.add(rel, item.line, "missing", key="means")
        if term and means:
            entries.append(GlossaryEntry(term, means))
    return entries


def _yaml_shape(data) -> str:
    if isinstance(data, list):
        return "glossary" if data and all(isinstance(i, dict) and "term" in i for i in data) else "unknown"
    if not isinstance(data, dict):
        return "unknown"
    entries = data.get("entries")
    if "rows" in data or "new_in_2015" in data:
        # A table that also carries entries is two files pasted together; say so rather than guess.
        return "unknown" if entries else "correspondence"
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        if "question" in entries[0] or data.get("kind") == "faq":
            return "faq"
        if "term" in entries[0]:
            return "glossary"
    if data.get("kind") == "faq":
        return "faq"
    return "unknown"


# --- office files -----------------------------------------------------------------------------


def _office_document(path: Path, rel: str, out: _Problems):
    """(metadata, sections, extra warnings) via retrieval.ingest, or None when it cannot be read."""
    try:
        ingest = importlib.import_module("retrieval.ingest")
    except ModuleNotFoundError:
        out.warn(rel, 1, "unsupported", detail=path.suffix.lower())
        return None
    try:
        parsed = ingest.parse_office_file(path)
    except ingest.IngestError as exc:
        out.add(rel, 1, "office_error", detail=getattr(exc, "reason", str(exc)))
        return None
    metadata = dict(parsed.metadata or {})
    return metadata, list(parsed.sections), list(getattr(parsed, "warnings", []) or [])


# --- the corpus -------------------------------------------------------------------------------


def _corpus_files(corpus_dir: Path) -> list[Path]:
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        rel_parts = path.relative_to(corpus_dir).parts
        if not path.is_file() or any(p.startswith((".", "_")) for p in rel_parts):
            continue
        if path.name.lower() == "readme.md":
            continue
        files.append(path)
    return files


def _file_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _sidecar_of(path: Path) -> Path | None:
    for suffix in OFFICE_SUFFIXES:
        for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
            if candidate.exists():
                return candidate
    return None


def _resolve_versions(docs: list[DocumentInfo], out: _Problems, today: dt.date) -> dict[str, str]:
    """doc_id -> 'superseded' for every procedure that is not the current version of its code."""
    by_code: dict[str, list[DocumentInfo]] = {}
    for doc in docs:
        if doc.kind == "procedure" and doc.code:
            by_code.setdefault(doc.code.upper(), []).append(doc)
    superseded: dict[str, str] = {}
    for code, group in by_code.items():
        candidates = sorted((d for d in group if d.status != "superseded"), key=lambda d: d.effective_date)
        if not candidates:
            continue
        current = candidates[-1]
        for other in candidates[:-1]:
            if other.effective_date == current.effective_date:
                out.add(current.path, 1, "same_date_versions", code=code, value=current.effective_date, other=other.path)
        if current.effective_date > today.isoformat():
            out.warn(current.path, 1, "future_current", code=code, value=current.effective_date)
        for doc in group:
            if doc is not current:
                superseded[doc.doc_id] = "superseded"
    return superseded


def load_corpus(corpus_dir: Path | str, *, today: dt.date | None = None) -> Corpus:
    """Read and validate every file under `corpus_dir`; raise CorpusError listing all problems."""
    corpus_dir = Path(corpus_dir)
    out = _Problems(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError([f"{corpus_dir}:0: thư mục tài liệu không tồn tại"])
    documents: list[DocumentInfo] = []
    passages: list[Passage] = []
    rows: list[CorrespondenceRow] = []
    news: list[NewClause] = []
    glossary: list[GlossaryEntry] = []
    file_hashes: dict[str, str] = {}
    id_seen: dict[str, str] = {}

    def register(meta: _Meta, rel: str, digest: str, doc_passages: list[Passage], warnings: list[str]) -> None:
        if meta.doc_id in id_seen:
            out.add(rel, meta.line, "duplicate_id", value=meta.doc_id, other=id_seen[meta.doc_id])
            return
        id_seen[meta.doc_id] = out.where(rel, meta.line)
        documents.append(
            DocumentInfo(
                doc_id=meta.doc_id,
                title=meta.title,
                kind=meta.kind,
                path=rel,
                content_hash=digest,
                source=meta.source,
                code=meta.code,
                version=meta.version,
                effective_date=meta.effective_date,
                status=meta.status,
                sections=tuple(p.section for p in doc_passages if p.section),
                warnings=tuple(warnings),
            )
        )
        passages.extend(doc_passages)

    for path in _corpus_files(corpus_dir):
        rel = path.relative_to(corpus_dir).as_posix()
        suffix = path.suffix.lower()
        warnings_before = len(out.warnings)
        if suffix in (".yaml", ".yml"):
            if _sidecar_of(path):
                continue  # metadata of an office file; its hash is counted with that file
            file_hashes[rel] = _file_hash(path)
            try:
                data = _load_yaml(path.read_text(encoding="utf-8-sig"))
            except _YamlProblem as exc:
                out.add(rel, exc.line, "bad_yaml", detail=exc.detail)
                continue
            shape = _yaml_shape(data)
            if shape == "faq":
                meta, doc_passages = _faq_passages(data, rel, out)
                if meta:
                    register(meta, rel, file_hashes[rel], doc_passages, out.warnings[warnings_before:])
            elif shape == "correspondence":
                meta, file_rows, file_news, doc_passages = _correspondence(data, rel, out)
                rows.extend(file_rows)
                news.extend(file_news)
                register(meta, rel, file_hashes[rel], doc_passages, out.warnings[warnings_before:])
            elif shape == "glossary":
                glossary.extend(_glossary(data, rel, out))
            else:
                out.add(rel, getattr(data, "line", 1), "unknown_yaml")
            continue
        if suffix == ".md":
            file_hashes[rel] = _file_hash(path)
            text = unicodedata.normalize("NFC", path.read_text(encoding="utf-8-sig"))
            split = _split_front_matter(text, rel, out)
            if split is None:
                continue
            raw_meta, body, body_line = split
            meta = _check_meta(raw_meta, rel, out)
            sections = markdown_sections(body, body_line, _clean(raw_meta.get("title")))
            extra: list[str] = []
        elif suffix in OFFICE_SUFFIXES:
            sidecar = path.with_suffix(".yaml")
            hash_paths = [path] + ([sidecar] if sidecar.exists() else [])
            file_hashes[rel] = _file_hash(*hash_paths)
            office = _office_document(path, rel, out)
            if office is None:
                continue
            raw_meta, sections, extra = office
            meta = _check_meta(raw_meta, rel, out)
        else:
            out.warn(rel, 1, "unsupported", detail=suffix or path.name)
            continue
        if meta is None:
            continue
        problems_before = len(out.problems)
        doc_passages = _build_passages(meta, sections, rel, out)
        if len(out.problems) > problems_before:
            continue
        for message in extra:
            out.warnings.append(f"{out.where(rel, 1)}: {message}")
        register(meta, rel, file_hashes[rel], doc_passages, out.warnings[warnings_before:])

    status = _resolve_versions(documents, out, today or dt.date.today())
    standard_clauses = {p.clause for p in passages if p.kind == "standard" and p.clause}
    if standard_clauses:
        for p in passages:
            if p.kind == "correspondence":
                for ref in p.iso_refs:
                    if not any(c == ref or c.startswith(ref + ".") for c in standard_clauses):
                        out.warn(p.source_path, p.source_line, "unknown_2015_clause", value=ref)
    if out.problems:
        raise CorpusError(out.problems)
    documents = [replace(d, status=status.get(d.doc_id, d.status)) for d in documents]
    passages = [replace(p, status=status[p.doc_id]) if p.doc_id in status else p for p in passages]
    return Corpus(
        documents={d.doc_id: d for d in documents},
        passages=tuple(passages),
        correspondence=tuple(rows),
        new_in_2015=tuple(news),
        glossary=tuple(glossary),
        warnings=tuple(out.warnings),
        file_hashes=file_hashes,
    )
