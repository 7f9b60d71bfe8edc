"""Turn the blocks of an office file (paragraphs, table rows) into metadata and numbered sections."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from retrieval.documents import RawSection
from retrieval.ingest.syllables import is_syllable


@dataclass(frozen=True)
class Block:
    """One paragraph or table row of a document, in reading order."""

    text: str  # a table row's cells joined with ' | '
    line: int  # paragraph number (Word) or page number (PDF), 1-based: where an admin looks
    heading_level: int = 0  # from a Word heading style, 0 when none
    cells: tuple[str, ...] = ()  # set for table rows


@dataclass(frozen=True)
class Extracted:
    """A reader's output: blocks in reading order plus what the reader noticed."""

    blocks: tuple[Block, ...]
    header_blocks: tuple[Block, ...] = ()  # page headers: read for metadata, not indexed
    title: str = ""  # from the file's properties
    encoding: str = "unicode"  # what legacy-looking text was typed in: unicode | tcvn3 | vni
    converted_blocks: int = 0
    warnings: tuple[str, ...] = ()


def fold(text: str) -> str:
    """Lower case without diacritics, one character per input character (so offsets carry over)."""
    out = []
    for char in text.lower():
        if char == "đ":
            out.append("d")
            continue
        decomposed = unicodedata.normalize("NFD", char)
        out.append(decomposed[0] if decomposed else char)
    return "".join(out)


# --- metadata ---------------------------------------------------------------------------------

# Folded labels of the header fields agencies use, by metadata key.
_LABELS = {
    "code": r"ma\s*so|ma\s*hieu|ma\s*quy\s*trinh|ma\s*tai\s*lieu|so\s*hieu|ky\s*hieu",
    "version": r"lan\s*ban\s*hanh|phien\s*ban|version",
    "effective_date": r"ngay\s*(?:co\s*)?hieu\s*luc|hieu\s*luc\s*tu(?:\s*ngay)?|ngay\s*ap\s*dung",
    "issued_date": r"ngay\s*ban\s*hanh",
    "page": r"trang|so\s*trang|lan\s*sua\s*doi|ngay\s*sua\s*doi",  # read only to end the field before
}
_LABEL_RE = re.compile("|".join(f"(?P<{key}>{pattern})" for key, pattern in _LABELS.items()))
_CODE_RE = re.compile(r"[A-Za-zĐđ]{1,8}(?:[\s.\-/]?[A-Za-zĐđ0-9]{1,8})*")
_VERSION_RE = re.compile(r"[0-9]{1,3}(?:[.,][0-9]{1,2})?|[A-Z][0-9]{0,2}(?!\w)")
# Header fields sit in short lines; a long sentence that mentions 'lần ban hành' is body text.
MAX_FIELD_LINE_WORDS = 30
_DATE_RE = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})")
_WORDY_DATE_RE = re.compile(r"ngay\s*(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})")


def _date(value: str) -> str:
    folded = fold(value)
    match = _DATE_RE.search(folded) or _WORDY_DATE_RE.search(folded)
    if not match:
        return ""
    day, month, year = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return ""


def _field_value(key: str, value: str) -> str:
    head, colon, tail = value.partition(":")
    if colon and len(head) <= 25:
        value = tail  # 'Lần ban hành/sửa đổi: 02/00': a qualifier between the label and its colon
    value = value.strip(" :.-–|\t")
    if key == "code":
        match = _CODE_RE.match(value)
        code = match.group(0) if match and any(c.isdigit() for c in match.group(0)) else ""
        return re.sub(r"\s+", "-", code.strip(" .-/")).upper()
    if key == "version":
        match = _VERSION_RE.match(value)
        return match.group(0) if match else ""
    if key in ("effective_date", "issued_date"):
        return _date(value)
    return ""


def metadata_fields(line: str) -> dict[str, str]:
    """{'code': 'QT-05', 'version': '02', 'effective_date': '2024-03-01'} from one header line."""
    folded = fold(line)
    found: dict[str, str] = {}
    if len(line.split()) > MAX_FIELD_LINE_WORDS:
        return found
    matches = [m for m in _LABEL_RE.finditer(folded) if _at_word_start(folded, m.start())]
    for i, match in enumerate(matches):
        key = match.lastgroup
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        if key == "page":
            continue
        value = _field_value(key, line[match.end() : end])
        if value and key not in found:
            found[key] = value
    return found


def _at_word_start(text: str, pos: int) -> bool:
    return pos == 0 or not text[pos - 1].isalnum()


def _is_label_only(cell: str) -> bool:
    folded = fold(cell).strip(" :.")
    match = _LABEL_RE.fullmatch(folded)
    return bool(match) and match.lastgroup != "page"


def header_lines(blocks: list[Block]) -> list[str]:
    """Lines a header may state fields on: paragraphs, cells, and label cells paired with values."""
    lines: list[str] = []
    for i, block in enumerate(blocks):
        if not block.cells:
            lines.extend(block.text.split("\n"))
            continue
        cells = block.cells
        for j, cell in enumerate(cells):
            lines.extend(cell.split("\n"))
            if _is_label_only(cell) and j + 1 < len(cells):
                lines.append(f"{cell}: {cells[j + 1]}")
        # A row of labels above a row of values ('Mã số | Lần ban hành' / 'QT-05 | 02').
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        if following and following.cells and len(following.cells) == len(cells) and all(_is_label_only(c) for c in cells if c):
            lines.extend(f"{label}: {value}" for label, value in zip(cells, following.cells))
    return lines


_TITLE_PREFIX_RE = re.compile(r"^(quy\s*trinh|huong\s*dan|quy\s*dinh|thu\s*tuc)\b[\s:.\-–]*")
MAX_TITLE_WORDS = 20
_NOT_TITLE_RE = re.compile(r"^(uy\s*ban|ubnd|cong\s*hoa|doc\s*lap|so\s*:|can\s*cu)")


def find_title(lines: list[str]) -> str:
    """The procedure's name from header lines ('QUY TRÌNH KIỂM SOÁT TÀI LIỆU' -> 'Kiểm soát tài liệu')."""
    candidates = [l.strip() for l in lines if l.strip() and not metadata_fields(l)]
    for i, line in enumerate(candidates):
        match = _TITLE_PREFIX_RE.match(fold(line))
        if not match:
            continue
        kind_word, rest = line[: match.end()].strip(" :.-–"), line[match.end() :].strip()
        if len(line.split()) > MAX_TITLE_WORDS or fold(rest).startswith(("nay ", "duoc ", "ap dung")):
            continue  # 'Quy trình này quy định …' is a sentence about the procedure, not its name
        if not rest and i + 1 < len(candidates) and not _NOT_TITLE_RE.match(fold(candidates[i + 1])):
            rest = candidates[i + 1]
        if rest:
            # 'Quy trình' is what every procedure is; the other kinds are part of the name.
            title = rest if fold(kind_word).replace(" ", "") == "quytrinh" else f"{kind_word} {rest}"
            return tidy_title(title)
    return ""


def tidy_title(title: str, code: str = "") -> str:
    """Drop a leading code, sentence-case an all-capitals title but keep acronyms (UBND, TTHC)."""
    title = " ".join(title.split()).strip(" :.-–")
    if code and fold(title).startswith(fold(code)):
        title = title[len(code) :].strip(" :.-–")
    letters = [c for c in title if c.isalpha()]
    if letters and all(c.isupper() for c in letters):
        words = []
        for word in title.split():
            core = word.strip("()[],.:;\"'")
            keep = core and not is_syllable(core)  # 'UBND', 'ISO', 'TCVN' are not syllables
            words.append(word if keep else word.lower())
        title = " ".join(words)
    return title[:1].upper() + title[1:]


# --- sections ---------------------------------------------------------------------------------

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}
_NUMBERED_RE = re.compile(
    r"^(?:(?:phần|mục|điều|chương)\s+)?(\d{1,2}(?:\.\d{1,2}){0,3}|[IVX]{1,4})(?:\.(?!\d)|\)|:)?\s+(\S.*)$",
    re.IGNORECASE,
)
_STEP_RE = re.compile(r"^bước\s+(\d{1,2})\s*(?:[:.)\-–]\s*|\s+)(\S.*)$", re.IGNORECASE)
MAX_HEADING_WORDS = 16


@dataclass
class _Cursor:
    """Where the numbering is: the last accepted heading's parts, Roman part and step."""

    roman: str = ""
    parts: tuple[int, ...] = ()
    step: int = 0
    roman_seen: bool = False

    def accepts(self, parts: tuple[int, ...]) -> bool:
        if not self.parts:
            return parts == (1,) or (parts[:-1] == (1,) * (len(parts) - 1) and parts[-1] == 1)
        if parts == self.parts + (1,):
            return True
        for depth in range(len(self.parts)):
            if parts == self.parts[:depth] + (self.parts[depth] + 1,):
                return True
        return False

    def next_at(self, depth: int) -> tuple[int, ...]:
        """The number the next heading of this depth gets (1-based depth)."""
        if depth <= len(self.parts):
            return self.parts[: depth - 1] + (self.parts[depth - 1] + 1,)
        return self.parts + (1,) * (depth - len(self.parts))

    def number(self, parts: tuple[int, ...]) -> str:
        body = ".".join(str(p) for p in parts)
        return f"{self.roman}.{body}" if self.roman else body


def _heading_candidate(text: str, styled: bool = False) -> tuple[str, str] | None:
    if "\n" in text or len(text) > 160:
        return None
    match = _NUMBERED_RE.match(text.strip())
    if not match:
        return None
    number, title = match.group(1), match.group(2).strip()
    words = title.split()
    if len(words) > MAX_HEADING_WORDS or title.endswith((";", ",")):
        return None
    if title.endswith(".") and len(words) > 8:
        return None  # a numbered sentence in a list, not a heading
    if not styled and not title[0].isupper():
        return None  # '3 ngày làm việc kể từ …' continues a sentence; headings start with a capital
    return number, title.rstrip(" .:")


def split_sections(blocks: list[Block], warnings: list[str] | None = None) -> tuple[list[RawSection], int]:
    """Cut blocks at numbered headings, Roman-numbered parts and 'Bước N' steps.

    Returns (sections, index of the first heading block). A number is a heading only when it
    continues the numbering (5.2 after 5.1 or 5, 6 after 5.2 …) or carries a Word heading style,
    so a numbered list inside a section stays text. A number seen before (a typing slip in a
    styled heading) stays text of the section before it, with a note in `warnings`.
    """
    used: dict[str, int] = {}
    cursor = _Cursor()
    sections: list[RawSection] = []
    number, title, level, start, text = "", "", 0, blocks[0].line if blocks else 1, []
    first_heading = len(blocks)

    def close() -> None:
        sections.append(RawSection(number, title, level, "\n".join(t for t in text if t).strip(), start))

    for idx, block in enumerate(blocks):
        heading = None
        if not block.cells:
            candidate = _heading_candidate(block.text, styled=bool(block.heading_level))
            step = _STEP_RE.match(block.text.strip()) if not candidate else None
            if candidate:
                raw, head_title = candidate
                if raw in _ROMAN:  # upper case only: 'i.' or 'v)' opens a list item
                    value = _ROMAN[raw]
                    expected = (_ROMAN.get(cursor.roman, 0) + 1) if cursor.roman_seen else 1
                    if value == expected or block.heading_level:
                        cursor = _Cursor(roman=raw, roman_seen=True)
                        heading = (raw, head_title, 1)
                elif raw[0].isdigit():
                    parts = tuple(int(p) for p in raw.split("."))
                    if cursor.accepts(parts) or block.heading_level:
                        cursor.parts, cursor.step = parts, 0
                        heading = (cursor.number(parts), head_title, len(parts) + bool(cursor.roman))
            elif step and len(step.group(2).split()) <= MAX_HEADING_WORDS:
                n = int(step.group(1))
                if n == cursor.step + 1:
                    cursor.step = n
                    parent = cursor.number(cursor.parts) if cursor.parts else cursor.roman
                    label = f"Bước {n}: {step.group(2).strip().rstrip('.')}"
                    heading = (f"{parent}.B{n}" if parent else f"B{n}", label, len(cursor.parts) + 1)
            elif block.heading_level and block.text.strip() and len(block.text.split()) <= MAX_HEADING_WORDS:
                # A Word heading printed without a number: number it where the numbering stands,
                # so 'Phạm vi' styled as a heading after '1. Mục đích' becomes 2.
                parts = cursor.next_at(block.heading_level)
                cursor.parts, cursor.step = parts, 0
                heading = (cursor.number(parts), block.text.strip(), block.heading_level)
        if heading and heading[0] in used:
            if warnings is not None:
                warnings.append(f"đề mục {heading[0]} lặp lại (lần đầu ở đoạn/trang {used[heading[0]]}); "
                                "giữ làm nội dung của mục trước")
            heading = None
        if heading:
            used[heading[0]] = block.line
            close()
            heading = (heading[0], tidy_title(heading[1]), heading[2])
            first_heading = min(first_heading, idx)
            number, title, level = heading
            start, text = block.line, []
            continue
        text.append(block.text)
    close()
    return sections, first_heading
