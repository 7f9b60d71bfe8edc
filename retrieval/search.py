"""The one search entry point: a query in, ranked and cited passages out.

INTERFACE CONTRACT (the bot, the CLI and the benchmarks code against this; the retrieval
work fills in the bodies):

    searcher = Searcher.from_settings(settings)   # loads var/index/CURRENT, model, glossary
    result = searcher.search("kiem soat tai lieu", k=5)   # -> SearchResult (retrieval.types)
    searcher.get_passage("tcvn-iso-9001-2015#7.5.3")      # -> Passage | None
    searcher.clause("7.5.3")                  # -> list[Passage] for that clause (+ sub-clauses)
    searcher.clause("4.2.3", edition=2008)    # -> SearchResult with notes naming the mapping
    searcher.related(passage_id, k=5)         # -> list[Passage] (iso_refs / neighbours / dense)
    searcher.document_passages(doc_id)        # -> list[Passage] in document order
    searcher.faq_entries()                    # -> list[Passage] of kind "faq"
    searcher.procedures()                     # -> list[Passage]: first passage of each *current* procedure
    searcher.maybe_reload()                   # -> bool: swapped in a newer bundle
"""
from __future__ import annotations

from retrieval.types import Passage, SearchResult


class Searcher:
    """Answers queries from the live index bundle; swaps in a newer bundle without restart."""

    @classmethod
    def from_settings(cls, settings) -> "Searcher":
        raise NotImplementedError

    def search(self, query: str, k: int = 5) -> SearchResult:
        raise NotImplementedError

    def get_passage(self, passage_id: str) -> Passage | None:
        raise NotImplementedError

    def clause(self, number: str, edition: int = 2015):
        raise NotImplementedError

    def related(self, passage_id: str, k: int = 5) -> list[Passage]:
        raise NotImplementedError

    def document_passages(self, doc_id: str) -> list[Passage]:
        raise NotImplementedError

    def faq_entries(self) -> list[Passage]:
        raise NotImplementedError

    def procedures(self) -> list[Passage]:
        raise NotImplementedError

    def maybe_reload(self) -> bool:
        raise NotImplementedError
