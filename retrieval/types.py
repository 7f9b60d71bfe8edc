"""Small frozen dataclasses passed between the retrieval stages and to the bot."""
from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("standard", "regulation", "procedure", "faq", "news", "correspondence")
STANDARD_NAME = "TCVN ISO 9001:2015"


@dataclass(frozen=True)
class Passage:
    """One citable unit: a clause, a procedure section, an FAQ entry or a correspondence row."""

    id: str  # stable: "<doc_id>#<section>"
    doc_id: str
    doc_title: str
    kind: str  # one of KINDS
    text: str
    section: str = ""  # "7.5.3", "5.2", "faq-12" …
    heading_path: tuple[str, ...] = ()
    clause: str = ""  # standard passages only, e.g. "7.5.3"
    iso_refs: tuple[str, ...] = ()
    code: str = ""  # procedures: "QT-01"
    version: str = ""  # procedures: "03"
    effective_date: str = ""  # ISO date "2024-03-01"
    status: str = "active"  # "active" | "superseded"
    source: str = ""
    source_path: str = ""  # corpus-relative file the passage came from
    source_line: int = 0

    @property
    def title(self) -> str:
        """The passage's own heading (last element of the heading path)."""
        return self.heading_path[-1] if self.heading_path else self.doc_title

    @property
    def citation(self) -> str:
        """Human-readable citation, e.g. 'TCVN ISO 9001:2015 — Điều 7.5.3 Kiểm soát thông tin dạng văn bản'."""
        from retrieval.citations import format_citation

        return format_citation(self)


@dataclass(frozen=True)
class Hit:
    """A passage ranked for one query."""

    passage: Passage
    rank: int
    score: float
    best_sentence: str = ""
    # Per-signal diagnostics (e.g. {"bm25": 3, "dense": 1}) – ranks within each retriever.
    signals: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class SearchResult:
    """What the one search entry point returns for a query."""

    query: str
    normalized_query: str
    answered: bool
    hits: tuple[Hit, ...] = ()
    # Interpretation notes, e.g. "2008:4.2.3 -> 7.5.2, 7.5.3" when a 2008 clause was mapped.
    notes: tuple[str, ...] = ()
    # When not answered: the closest topics (passage titles) to suggest to the user.
    suggestions: tuple[str, ...] = ()
    latency_ms: float = 0.0


@dataclass(frozen=True)
class CorrespondenceRow:
    """One row of the 2008 -> 2015 clause correspondence table."""

    clause_2008: str
    title_2008: str
    clauses_2015: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class NewClause:
    """A 2015 clause with no counterpart in the 2008 edition."""

    clause: str
    title: str
    note: str = ""


@dataclass(frozen=True)
class GlossaryEntry:
    """An abbreviation or synonym and what it stands for (feeds query expansion)."""

    term: str
    means: tuple[str, ...]
