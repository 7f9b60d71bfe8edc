"""Read a text PDF (pypdf) into blocks: one per line, numbered by page, page headers and footers removed."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from retrieval.ingest import legacy_encodings as legacy
from retrieval.ingest.repair import clean_text, is_page_number, rejoin_split_syllables, remove_page_furniture
from retrieval.ingest.structure import Block, Extracted

# Fewer visible characters than this in the whole file means there is no text layer to index.
MIN_TEXT_CHARS = 20


class PdfReadError(Exception):
    """The PDF cannot be read, or holds no extractable text (a scanned image)."""


# Layout extraction keeps table columns apart with runs of spaces; this many mark a cell border.
_COLUMN_GAP_RE = re.compile(r" {4,}")
_LEADING_NUMBER_RE = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[IVX]{1,4}\.|Bước\s+\d{1,2}\s*[:.]?)$")


def _page_text(page) -> str:
    """The page's text with table rows as 'cell | cell | cell' (layout extraction, plain as a fallback)."""
    try:
        text = page.extract_text(extraction_mode="layout") or ""
    except Exception:  # layout mode is stricter about odd fonts; the plain mode still reads them
        return page.extract_text() or ""
    lines = []
    for line in text.split("\n"):
        cells = _COLUMN_GAP_RE.split(line.strip())
        if len(cells) > 1 and _LEADING_NUMBER_RE.match(cells[0]):
            cells = [f"{cells[0]} {cells[1]}", *cells[2:]]  # '1.      Mục đích' is a heading, not a row
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def read_pdf(path: Path) -> Extracted:
    """Blocks of a PDF's text layer; PdfReadError for a damaged, locked or image-only file."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError as PypdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns on every odd but readable object
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfReadError("tệp PDF có mật khẩu; hãy lưu bản không khóa rồi đưa vào lại")
        raw_pages = [_page_text(page) for page in reader.pages]
    except PdfReadError:
        raise
    except (PypdfError, OSError, ValueError, KeyError, TypeError) as exc:
        raise PdfReadError(f"không đọc được tệp PDF ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # pypdf surfaces damaged streams as assorted errors
        raise PdfReadError(f"tệp PDF bị hỏng ({type(exc).__name__}: {exc})") from None

    visible = sum(len("".join(text.split())) for text in raw_pages)
    if visible < MIN_TEXT_CHARS:
        raise PdfReadError(
            f"không có lớp chữ để đọc ({len(raw_pages)} trang, có thể là bản quét ảnh); "
            "cần nhận dạng chữ (OCR) hoặc dùng bản Word/PDF xuất từ Word"
        )
    warnings = []
    empty_pages = [str(i + 1) for i, text in enumerate(raw_pages) if not text.strip()]
    if empty_pages:
        warnings.append(f"trang {', '.join(empty_pages)} không có chữ (có thể là ảnh quét), nội dung trang đó bị bỏ qua")

    everything = "\n".join(raw_pages)
    encoding = legacy.detect_encoding(everything) if legacy.looks_legacy(everything) else legacy.UNICODE
    pages: list[list[str]] = []
    converted = 0
    for text in raw_pages:
        lines = []
        for line in text.split("\n"):
            # Convert before cleaning: TCVN3's 'ư' is the soft hyphen that cleaning removes.
            if encoding != legacy.UNICODE and legacy.looks_legacy(line):
                line, converted = legacy.convert(line, encoding), converted + 1
                if encoding == legacy.TCVN3:
                    line = legacy.restore_capitals(line)
            lines.append(rejoin_split_syllables(clean_text(line)))
        pages.append(lines)
    pages, furniture = remove_page_furniture(pages)
    blocks = [
        Block(line, page_no, cells=tuple(line.split(" | ")) if " | " in line else ())
        for page_no, lines in enumerate(pages, start=1)
        for line in lines
        if line.strip() and not is_page_number(line)
    ]
    title = ""
    try:
        title = clean_text(str((reader.metadata or {}).get("/Title", "") or "")).strip()
    except Exception:  # a broken info dictionary is not worth failing the file for
        title = ""
    return Extracted(
        blocks=tuple(blocks),
        # A running header often states the code and version; it is read for metadata, not indexed.
        header_blocks=tuple(Block(line, 1) for line in furniture),
        title=title,
        encoding=encoding,
        converted_blocks=converted,
        warnings=tuple(warnings),
    )
