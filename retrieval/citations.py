"""Format the citation a person uses to check a passage."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.types import Passage


def format_date_vn(iso_date: str) -> str:
    """'2024-03-01' -> '01/03/2024'; anything else is returned unchanged."""
    parts = iso_date.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[2]}/{parts[1]}/{parts[0]}"
    return iso_date


def format_citation(p: "Passage") -> str:
    """Standard + clause, or procedure + version + section, or document + section."""
    if p.kind == "standard" and p.clause:
        return f"{p.doc_title} — Điều {p.clause} {p.title}".rstrip()
    if p.kind == "procedure" and p.code:
        details = []
        if p.version:
            details.append(f"lần ban hành {p.version}")
        if p.effective_date:
            details.append(f"hiệu lực {format_date_vn(p.effective_date)}")
        if p.status == "superseded":
            details.append("đã được thay thế")
        name = p.doc_title if p.doc_title.startswith(p.code) else f"{p.code} {p.doc_title}"
        where = f" — Mục {p.section}" if p.section else ""
        extra = f" ({', '.join(details)})" if details else ""
        return f"{name}{extra}{where}"
    if p.kind == "correspondence":
        return f"{p.doc_title} — {p.title}"
    if p.kind == "faq" and p.title != p.doc_title:
        # The entry's own question tells a reader where to look in the FAQ.
        number = p.section.removeprefix("faq-").lstrip("0") or p.section
        return f"{p.doc_title} — Câu {number}: {p.title}"
    if p.section and p.kind != "faq":
        return f"{p.doc_title} — Mục {p.section} {p.title if p.title != p.doc_title else ''}".rstrip()
    return p.doc_title
