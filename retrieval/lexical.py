"""BM25 over underthesea-segmented words plus a diacritic-folded field (bm25s).

INTERFACE CONTRACT (retrieval.index builds and saves it; retrieval.search loads and queries it):

    lex = LexicalIndex.build(passages)          # list[Passage] in bundle order
    lex.save(bundle_dir / "lexical")
    lex = LexicalIndex.load(bundle_dir / "lexical")
    lex.search(query_analysis, k) -> list[tuple[int, float]]   # (row in bundle order, score)

`query_analysis` is a retrieval.understanding.QueryAnalysis or a plain query string.
Two fields, two bm25s indexes: "words" (segmented, accented) and "folded" (unaccented syllables
and syllable pairs); a passage's score is their sum, so a query typed without marks still finds
its passages through the folded field.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import bm25s
import numpy as np

from retrieval.textproc import folded_tokens, segmented_tokens
from retrieval.types import Passage
from retrieval.understanding import QueryAnalysis, content_tokens

# bm25s sets its own logger to DEBUG and would print a line on every build.
logging.getLogger("bm25s").setLevel(logging.WARNING)

FORMAT_VERSION = 1
FIELDS = ("words", "folded")
# Glossary synonyms are not what the user typed: at full weight they drown questions about
# "hồ sơ" in definition passages. Spelled-out acronyms and translated terms count fully.
EXPANSION_WEIGHT = 0.3


def passage_text_for_lexical(p: Passage) -> str:
    """What BM25 sees of a passage: its titles (doc, heading path, code) and its text."""
    heading = " ".join(h for h in p.heading_path if h != p.doc_title)
    return " \n".join(x for x in (p.doc_title, p.code, heading, p.text) if x)


def _field_tokens(field: str, text: str) -> list[str]:
    return segmented_tokens(text) if field == "words" else folded_tokens(text)



class LexicalIndex:
    """Two bm25s indexes over the same passages, queried together."""

    def __init__(self, indexes: dict[str, bm25s.BM25], count: int):
        self._indexes = indexes
        self.count = count
        self._vocab = {field: set(index.vocab_dict) for field, index in indexes.items()}

    @classmethod
    def build(cls, passages: Sequence[Passage]) -> "LexicalIndex":
        texts = [passage_text_for_lexical(p) for p in passages]
        indexes = {}
        for field in FIELDS:
            index = bm25s.BM25()
            corpus = [_field_tokens(field, t) or ["_empty_"] for t in texts]
            index.index(corpus, show_progress=False)
            indexes[field] = index
        return cls(indexes, len(passages))

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for field, index in self._indexes.items():
            index.save(str(path / field), show_progress=False)
        meta = {"format_version": FORMAT_VERSION, "fields": list(FIELDS), "count": self.count}
        (path / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "LexicalIndex":
        path = Path(path)
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: lexical index format {meta.get('format_version')} is not {FORMAT_VERSION}")
        indexes = {field: bm25s.BM25.load(str(path / field), show_progress=False) for field in meta["fields"]}
        return cls(indexes, int(meta["count"]))

    def query_tokens(self, query: QueryAnalysis | str, restore: bool = True) -> dict[str, list[str]]:
        """The content tokens each field is queried with (question words removed)."""
        text = query.lexical_text(restore) if isinstance(query, QueryAnalysis) else query
        return {field: content_tokens(_field_tokens(field, text)) for field in self._indexes}

    def _text_scores(self, text: str) -> np.ndarray:
        total = np.zeros(self.count, dtype=np.float32)
        for field in self._indexes:
            known = [t for t in content_tokens(_field_tokens(field, text)) if t in self._vocab[field]]
            if known:
                total += self._indexes[field].get_scores(known)
        return total

    def scores(
        self, query: QueryAnalysis | str, restore: bool = True, expansion_weight: float = EXPANSION_WEIGHT
    ) -> np.ndarray:
        """BM25 score of every passage (bundle order): fields summed, glossary expansions down-weighted."""
        if not isinstance(query, QueryAnalysis):
            return self._text_scores(query)
        total = self._text_scores(query.lexical_text(restore))
        synonyms = [e for e in query.expansions if e not in query.spelled_out]
        if query.spelled_out:
            total += self._text_scores(" ; ".join(query.spelled_out))
        if synonyms and expansion_weight > 0:
            total += expansion_weight * self._text_scores(" ; ".join(synonyms))
        return total

    def search(self, query: QueryAnalysis | str, k: int, restore: bool = True) -> list[tuple[int, float]]:
        scores = self.scores(query, restore)
        if k <= 0 or not scores.any():
            return []
        k = min(k, self.count)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
