"""Read a Word (.docx) file into blocks: body paragraphs and table rows in order, page-header blocks apart.

Legacy-encoded text is converted here because only Word keeps the font names that say which
encoding a run was typed in (.VnTime -> TCVN3, VNI-Times -> VNI).
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from docx.oxml.ns import qn
from docx.table import Table

from retrieval.ingest import legacy_encodings as legacy
from retrieval.ingest.repair import clean_text
from retrieval.ingest.structure import Block, Extracted

_HEADING_STYLE_RE = re.compile(r"^(?:heading|tiêu đề|đề mục)\s*(\d)$", re.IGNORECASE)


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of old binary .doc files


class DocxReadError(Exception):
    """The file is not a readable Word document."""


@dataclass
class _Segment:
    text: str
    encoding: str | None  # from the run's font; None when the font says nothing
    capitals: bool = False


@dataclass
class _RawBlock:
    segments: list[list[_Segment]]  # one list per cell (a paragraph is a one-cell row)
    line: int
    heading_level: int = 0
    is_row: bool = False
    texts: list[str] = field(default_factory=list)


def read_docx(path: Path) -> Extracted:
    """Blocks of a .docx in reading order; DocxReadError when the file cannot be opened."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    with open(path, "rb") as handle:
        if handle.read(8) == _OLE_MAGIC:
            raise DocxReadError("đây là tệp Word 97-2003 (.doc) mang đuôi .docx; hãy mở bằng Word và lưu lại dạng .docx")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocxReadError(f"không mở được tệp Word ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # python-docx raises lxml errors for a damaged part
        raise DocxReadError(f"tệp Word bị hỏng ({type(exc).__name__}: {exc})") from None

    default_font = _default_font(document)
    numbering = _Numbering(document)
    body: list[_RawBlock] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            body.extend(_table_blocks(item, default_font, len(body) + 1))
        else:
            segments = _paragraph_segments(item, default_font)
            label = numbering.label(item)
            if label and segments:
                segments.insert(0, _Segment(label + " ", None))
            body.append(_RawBlock([segments], len(body) + 1, _heading_level(item)))
    header: list[_RawBlock] = []
    seen_parts = set()
    for section in document.sections:
        # Agencies put 'Mã số | Lần ban hành | Trang' in the page header or the footer.
        parts = [section.header, section.footer]
        if section.different_first_page_header_footer:
            parts += [section.first_page_header, section.first_page_footer]
        for part in parts:
            if part.is_linked_to_previous and seen_parts:
                continue
            key = id(part._element) if part._element is not None else None
            if key in seen_parts:
                continue
            seen_parts.add(key)
            for item in part.iter_inner_content():
                if isinstance(item, Table):
                    header.extend(_table_blocks(item, default_font, 0))
                else:
                    header.append(_RawBlock([_paragraph_segments(item, default_font)], 0))

    encodings = _decide_encodings(body + header)
    converted = 0
    for raw in body + header:
        changed = _render(raw, encodings)
        converted += changed
    main_encoding = next((e for e in (legacy.TCVN3, legacy.VNI) if e in encodings.values()), legacy.UNICODE)
    return Extracted(
        blocks=tuple(_to_block(r) for r in body if any(t for t in r.texts)),
        header_blocks=tuple(_to_block(r) for r in header if any(t for t in r.texts)),
        title=clean_text(document.core_properties.title or "").strip(),
        encoding=main_encoding,
        converted_blocks=converted,
    )


def _to_block(raw: _RawBlock) -> Block:
    if raw.is_row:
        cells = tuple(t.strip() for t in raw.texts)
        return Block(" | ".join(c.replace("\n", " ") for c in cells), raw.line, 0, cells)
    return Block(raw.texts[0].strip(), raw.line, raw.heading_level)


# --- fonts and text ---------------------------------------------------------------------------


def _rfonts_name(rpr) -> str | None:
    if rpr is None:
        return None
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        return None
    # Characters 0x80-0xFF (where legacy letters sit) are drawn with the hAnsi font.
    return fonts.get(qn("w:hAnsi")) or fonts.get(qn("w:ascii"))


def _default_font(document) -> str | None:
    defaults = document.styles.element.find(qn("w:docDefaults"))
    if defaults is None:
        return None
    rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
    return _rfonts_name(rpr)


def _style_font(style) -> str | None:
    while style is not None:
        name = _rfonts_name(style.element.find(qn("w:rPr")))
        if name:
            return name
        style = style.base_style
    return None


def _outline_level(ppr) -> int:
    level = ppr.find(qn("w:outlineLvl")) if ppr is not None else None
    value = level.get(qn("w:val")) if level is not None else None
    # 0-8 are heading levels 1-9; 9 means body text.
    return int(value) + 1 if value is not None and value.isdigit() and int(value) < 9 else 0


def _heading_level(paragraph) -> int:
    """1, 2 … for a heading (built-in heading style or an outline level, as custom styles set), else 0."""
    own = _outline_level(paragraph._p.pPr)
    if own:
        return own
    style = paragraph.style
    while style is not None:
        match = _HEADING_STYLE_RE.match((style.name or "").strip())
        if match:
            return int(match.group(1))
        level = _outline_level(style.element.find(qn("w:pPr")))
        if level:
            return level
        style = style.base_style
    return 0


# A soft hyphen is TCVN3's 'ư' (0xAD); Word keeps it as <w:softHyphen/>, which python-docx drops.
_RUN_TEXT_TAGS = {
    qn("w:t"): None, qn("w:tab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n",
    qn("w:noBreakHyphen"): "-", qn("w:softHyphen"): "\u00ad",
}


def _run_text(run) -> str:
    out = []
    for child in run:
        if child.tag in _RUN_TEXT_TAGS:
            fixed = _RUN_TEXT_TAGS[child.tag]
            out.append((child.text or "") if fixed is None else fixed)
    return "".join(out)


def _paragraph_segments(paragraph, default_font: str | None) -> list[_Segment]:
    style_font = _style_font(paragraph.style) or default_font
    segments: list[_Segment] = []
    p = paragraph._p
    for run in p.iter(qn("w:r")):
        # Skip text boxes and the fallback copy of alternate content: they would repeat text.
        if _inside(run, p, ("w:txbxContent", "mc:Fallback")):
            continue
        text = _run_text(run)
        if not text:
            continue
        font = _rfonts_name(run.find(qn("w:rPr"))) or style_font
        encoding, capitals = legacy.font_encoding(font)
        if segments and segments[-1].encoding == encoding and segments[-1].capitals == capitals:
            segments[-1].text += text
        else:
            segments.append(_Segment(text, encoding, capitals))
    return segments


_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _inside(element, stop, tags) -> bool:
    names = {_MC_FALLBACK if t == "mc:Fallback" else qn(t) for t in tags}
    parent = element.getparent()
    while parent is not None and parent is not stop:
        if parent.tag in names:
            return True
        parent = parent.getparent()
    return False


def _table_blocks(table, default_font: str | None, first_line: int) -> list[_RawBlock]:
    blocks = []
    for row in table.rows:
        cells, seen = [], []
        for cell in row.cells:
            if any(cell._tc is s for s in seen):
                continue  # a merged cell repeats across the columns it spans
            seen.append(cell._tc)
            segments: list[_Segment] = []
            for i, paragraph in enumerate(cell.paragraphs):
                if i:
                    segments.append(_Segment("\n", None))
                segments.extend(_paragraph_segments(paragraph, default_font))
            cells.append(segments)
        blocks.append(_RawBlock(cells, first_line + len(blocks) if first_line else 0, 0, True))
    return blocks


# --- automatic numbering ---------------------------------------------------------------------


_ROMAN_NUMERALS = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                   (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def _roman(n: int) -> str:
    out = ""
    for value, letters in _ROMAN_NUMERALS:
        while n >= value:
            out, n = out + letters, n - value
    return out


def _format_number(n: int, fmt: str) -> str | None:
    if fmt in ("decimal", "decimalZero"):
        return f"{n:02d}" if fmt == "decimalZero" and n < 10 else str(n)
    if fmt in ("upperRoman", "lowerRoman"):
        return _roman(n) if fmt == "upperRoman" else _roman(n).lower()
    if fmt in ("upperLetter", "lowerLetter"):
        letter = chr(ord("a") + (n - 1) % 26)
        return letter.upper() if fmt == "upperLetter" else letter
    return None  # bullets and exotic formats carry no number worth citing


class _Numbering:
    """Renders Word's automatic numbering ('1.', '5.2', 'II.') the way Word prints it before a paragraph.

    Agencies' headings are often numbered by Word rather than typed, so without this the text
    would read 'Mục đích' where the printed page shows '1. Mục đích'.
    """

    def __init__(self, document):
        self._levels: dict[str, dict[int, tuple[int, str, str]]] = {}  # abstract id -> ilvl -> (start, fmt, text)
        self._abstract_of: dict[str, str] = {}
        self._start_override: dict[str, dict[int, int]] = {}
        self._counters: dict[str, list[int]] = {}
        self._seen_nums: set[str] = set()
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        for abstract in root.findall(qn("w:abstractNum")):
            levels = {}
            for lvl in abstract.findall(qn("w:lvl")):
                start = lvl.find(qn("w:start"))
                fmt = lvl.find(qn("w:numFmt"))
                text = lvl.find(qn("w:lvlText"))
                levels[int(lvl.get(qn("w:ilvl"), "0"))] = (
                    int(start.get(qn("w:val"), "1")) if start is not None else 1,
                    fmt.get(qn("w:val"), "decimal") if fmt is not None else "decimal",
                    text.get(qn("w:val"), "") if text is not None else "",
                )
            self._levels[abstract.get(qn("w:abstractNumId"))] = levels
        for num in root.findall(qn("w:num")):
            num_id = num.get(qn("w:numId"))
            ref = num.find(qn("w:abstractNumId"))
            if ref is not None:
                self._abstract_of[num_id] = ref.get(qn("w:val"))
            overrides = {}
            for override in num.findall(qn("w:lvlOverride")):
                start = override.find(qn("w:startOverride"))
                if start is not None:
                    overrides[int(override.get(qn("w:ilvl"), "0"))] = int(start.get(qn("w:val"), "1"))
            self._start_override[num_id] = overrides

    def _num_pr(self, paragraph) -> tuple[str, int] | None:
        ppr = paragraph._p.pPr
        num_pr = ppr.find(qn("w:numPr")) if ppr is not None else None
        style = paragraph.style
        while num_pr is None and style is not None:
            style_ppr = style.element.find(qn("w:pPr"))
            num_pr = style_ppr.find(qn("w:numPr")) if style_ppr is not None else None
            style = style.base_style
        if num_pr is None:
            return None
        num_id = num_pr.find(qn("w:numId"))
        ilvl = num_pr.find(qn("w:ilvl"))
        if num_id is None or num_id.get(qn("w:val")) in (None, "0"):
            return None  # numId 0 switches numbering off
        return num_id.get(qn("w:val")), int(ilvl.get(qn("w:val"), "0")) if ilvl is not None else 0

    def label(self, paragraph) -> str:
        """The printed number of a paragraph, '' when it has none (or only a bullet)."""
        found = self._num_pr(paragraph)
        if not found:
            return ""
        num_id, ilvl = found
        abstract = self._abstract_of.get(num_id)
        levels = self._levels.get(abstract or "", {})
        if ilvl not in levels:
            return ""
        counters = self._counters.setdefault(abstract, [0] * 9)
        if num_id not in self._seen_nums:
            self._seen_nums.add(num_id)
            for level, start in self._start_override.get(num_id, {}).items():
                counters[level] = start - 1
        start = levels[ilvl][0]
        counters[ilvl] = max(counters[ilvl] + 1, start)
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        text = levels[ilvl][2]

        def render(match) -> str:
            level = int(match.group(1)) - 1
            start_l, fmt, _ = levels.get(level, (1, "decimal", ""))
            value = counters[level] or start_l
            return _format_number(value, fmt) or ""

        if _format_number(1, levels[ilvl][1]) is None:
            return ""
        return re.sub(r"%(\d)", render, text).strip()


# --- legacy encodings -------------------------------------------------------------------------


def _decide_encodings(blocks: list[_RawBlock]) -> dict[str | None, str]:
    """Font hint -> the encoding its text really is in (a .VnTime style may hold Unicode text)."""
    by_hint: dict[str | None, list[str]] = {}
    for raw in blocks:
        for cell in raw.segments:
            for segment in cell:
                if legacy.looks_legacy(segment.text):
                    by_hint.setdefault(segment.encoding, []).append(segment.text)
    return {hint: legacy.detect_encoding("\n".join(texts)) for hint, texts in by_hint.items()}


def _render(raw: _RawBlock, encodings: dict[str | None, str]) -> int:
    """Fill raw.texts with Unicode text; returns 1 when some legacy text was converted."""
    changed = 0
    raw.texts = []
    for cell in raw.segments:
        parts = []
        for segment in cell:
            encoding = encodings.get(segment.encoding, legacy.UNICODE)
            text = segment.text
            if encoding != legacy.UNICODE and legacy.looks_legacy(text):
                converted = legacy.convert(text, encoding, capitals_font=segment.capitals)
                if _reads_better(converted, text):
                    text, changed = converted, 1
            parts.append(text)
        raw.texts.append(clean_text("".join(parts)))
    return changed


def _reads_better(converted: str, original: str) -> bool:
    """Not worse than the original: the document's encoding was already decided on all its text,
    and a short piece ('Hoà sô' is VNI for 'Hồ sơ') can read well both ways."""
    good_new, total_new = legacy.syllable_score(converted)
    good_old, total_old = legacy.syllable_score(original)
    if not total_new:
        return False
    return good_new / total_new >= (good_old / total_old if total_old else 0.0)
