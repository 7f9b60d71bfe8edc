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

`search(query, k, mode=...)` also takes the retrieval configuration compared by `isobot eval`:
"lexical", "dense", "hybrid" or "hybrid+restore" (the default).

Pipeline: understand the query (retrieval.understanding) -> BM25 and faiss candidates -> reciprocal
rank fusion -> explicit clause / 2008 references promoted -> superseded procedures dropped unless
asked for -> answer or decline on a calibrated confidence -> best sentence per hit.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from retrieval.textproc import fold, folded_tokens, normalize, sentences, warm_up
from retrieval.types import Hit, Passage, SearchResult
from retrieval.understanding import QueryAnalysis, QueryUnderstanding, content_tokens

log = logging.getLogger(__name__)

MODES = ("lexical", "dense", "hybrid", "hybrid+restore")
DEFAULT_MODE = "hybrid+restore"
CANDIDATES = 50  # per retriever, before fusion
RRF_K = 60  # the usual reciprocal-rank-fusion constant
LEXICAL_STRENGTH_CAP = 1.5  # a few very rare words must not outvote the dense similarity
RELOAD_CHECK_SECONDS = 1.0
QUERY_VECTOR_CACHE = 1024
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Evidence:
    """The signals the answer/decline decision is made on (kept for calibration)."""

    dense_top: float  # best cosine between the query and a current passage
    lexical_strength: float  # best BM25 score per query content token, capped
    foreign: bool  # typed in another language (no marks and not Vietnamese syllables)
    explicit_reference: bool  # names a clause: always answered


@dataclass(frozen=True)
class Calibration:
    """Answer when dense_top + lexical_weight * lexical_strength + foreign_bonus * foreign >= threshold.

    Values come from retrieval/calibration.json, written by scripts/calibrate.py; the defaults
    here are only for a checkout without that file.
    """

    threshold: float = 0.87
    lexical_weight: float = 0.02
    foreign_bonus: float = 0.03

    @classmethod
    def load(cls, mode: str = DEFAULT_MODE, path: Path = CALIBRATION_FILE) -> "Calibration":
        """The rule calibrated for one retrieval configuration (each mode has its own threshold)."""
        if not path.exists():
            return cls()
        modes = json.loads(path.read_text(encoding="utf-8")).get("modes", {})
        data = modes.get(mode) or modes.get(DEFAULT_MODE)
        if not data:
            return cls()
        return cls(
            threshold=float(data["threshold"]),
            lexical_weight=float(data["lexical_weight"]),
            foreign_bonus=float(data["foreign_bonus"]),
        )

    def confidence(self, evidence: Evidence) -> float:
        return (
            evidence.dense_top
            + self.lexical_weight * evidence.lexical_strength
            + self.foreign_bonus * float(evidence.foreign)
        )

    def answers(self, evidence: Evidence) -> bool:
        return evidence.explicit_reference or self.confidence(evidence) >= self.threshold


@dataclass
class _Live:
    """Everything derived from one loaded index bundle; replaced as a whole on hot swap."""

    path: Path
    bundle: object
    passages: tuple[Passage, ...]
    understanding: QueryUnderstanding
    by_id: dict[str, int]
    current_rows: np.ndarray  # bool mask: not superseded
    clause_rows: dict[str, int]  # standard clause -> row
    correspondence_rows: dict[str, int]  # 2008 clause -> row of its correspondence passage
    doc_rows: dict[str, list[int]]
    idf: dict[str, float]
    _sentences: dict[int, list[tuple[str, frozenset]]] = field(default_factory=dict)

    @classmethod
    def from_bundle(cls, path: Path, bundle) -> "_Live":
        passages = tuple(bundle.passages)
        understanding = QueryUnderstanding(passages, bundle.correspondence, bundle.glossary)
        doc_rows: dict[str, list[int]] = {}
        df: Counter = Counter()
        for row, p in enumerate(passages):
            doc_rows.setdefault(p.doc_id, []).append(row)
            df.update(set(folded_tokens(f"{p.title} {p.text}")))
        n = max(len(passages), 1)
        return cls(
            path=path,
            bundle=bundle,
            passages=passages,
            understanding=understanding,
            by_id={p.id: row for row, p in enumerate(passages)},
            current_rows=np.array([p.status != "superseded" for p in passages], dtype=bool),
            clause_rows={p.clause: row for row, p in enumerate(passages) if p.kind == "standard" and p.clause},
            correspondence_rows={
                p.section.removeprefix("2008-"): row
                for row, p in enumerate(passages)
                if p.kind == "correspondence" and p.section.startswith("2008-")
            },
            doc_rows=doc_rows,
            idf={t: math.log(1 + n / c) for t, c in df.items()},
        )

    def sentence_tokens(self, row: int) -> list[tuple[str, frozenset]]:
        cached = self._sentences.get(row)
        if cached is None:
            passage = self.passages[row]
            parts = sentences(passage.text)
            # An FAQ entry repeats its question in the text; the highlight should be from the answer.
            title = fold(passage.title).strip(" ?.")
            answers = [s for s in parts if fold(s).strip(" ?.") != title] or parts
            cached = [(s, frozenset(folded_tokens(s))) for s in answers]
            self._sentences[row] = cached
        return cached

    def subclause_rows(self, clause: str) -> list[int]:
        """The clause's own passage then its sub-clauses, in document order."""
        prefix = clause + "."
        return [row for c, row in self.clause_rows.items() if c == clause or c.startswith(prefix)]


class Searcher:
    """Answers queries from the live index bundle; swaps in a newer bundle without restart."""

    def __init__(self, settings, embedder, live: _Live, calibration: Calibration | None = None):
        self.settings = settings
        self.embedder = embedder
        self.calibrations = {mode: Calibration.load(mode) for mode in MODES}
        if calibration is not None:
            self.calibrations[DEFAULT_MODE] = calibration
        self._live = live
        self._reload_lock = threading.Lock()
        self._last_check = time.monotonic()
        self._failed_path: Path | None = None
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(cls, settings, *, progress: bool = False, embedder=None) -> "Searcher":
        """Load the CURRENT bundle (building one first on a fresh install), the model, and warm up."""
        from retrieval.embedding import load_embedder
        from retrieval.index import current_bundle_path, reindex

        embedder = embedder or load_embedder(settings)
        path = current_bundle_path(settings.index_dir)
        if path is None:
            log.info("no index bundle under %s yet: building one from %s", settings.index_dir, settings.corpus_dir)
            reindex(settings, progress=progress, embedder=embedder)
            path = current_bundle_path(settings.index_dir)
            if path is None:
                raise RuntimeError(f"reindex finished but {settings.index_dir}/CURRENT is missing")
        live = cls._load_live(path)
        model = (live.bundle.manifest or {}).get("model")
        if model and model != embedder.model_name:
            log.info("bundle was built with %s, the configured model is %s: rebuilding", model, embedder.model_name)
            reindex(settings, progress=progress, embedder=embedder)
            live = cls._load_live(current_bundle_path(settings.index_dir))
        searcher = cls(settings, embedder, live)
        searcher.warm_up()
        return searcher

    @staticmethod
    def _load_live(path: Path) -> _Live:
        from retrieval.index import IndexBundle

        return _Live.from_bundle(Path(path), IndexBundle.load(path))

    def warm_up(self) -> None:
        """Pay the one-off costs (segmenter model, first embedding) before the first user query."""
        warm_up()
        self.search("kiểm soát thông tin dạng văn bản", k=1)

    @property
    def calibration(self) -> Calibration:
        """The answer/decline rule of the default configuration."""
        return self.calibrations[DEFAULT_MODE]

    @property
    def bundle_path(self) -> Path:
        return self._live.path

    # ------------------------------------------------------------------ hot swap
    def maybe_reload(self) -> bool:
        """Swap in a newer bundle if CURRENT moved (checked at most once a second, never blocks)."""
        now = time.monotonic()
        if now - self._last_check < RELOAD_CHECK_SECONDS:
            return False
        if not self._reload_lock.acquire(blocking=False):
            return False
        try:
            self._last_check = now
            from retrieval.index import current_bundle_path

            path = current_bundle_path(self.settings.index_dir)
            if path is None or Path(path) == self._live.path or Path(path) == self._failed_path:
                return False
            try:
                live = self._load_live(path)
            except Exception as exc:  # a broken bundle must not take the running bot down
                log.error("could not load index bundle %s, keeping %s: %s", path, self._live.path, exc)
                self._failed_path = Path(path)
                return False
            self._live = live  # one reference assignment: searches in flight keep the old bundle
            log.info("switched to index bundle %s", path)
            return True
        finally:
            self._reload_lock.release()

    # ------------------------------------------------------------------ search
    def analyse(self, query: str, mode: str = DEFAULT_MODE) -> QueryAnalysis:
        return self._live.understanding.analyse(query, restore=mode == "hybrid+restore")

    def search(self, query: str, k: int = 5, mode: str = DEFAULT_MODE) -> SearchResult:
        result, _ = self.search_with_evidence(query, k=k, mode=mode)
        return result

    def search_with_evidence(self, query: str, k: int = 5, mode: str = DEFAULT_MODE) -> tuple[SearchResult, Evidence]:
        """search(), plus the signals the answer/decline decision used (for calibration)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        started = time.perf_counter()
        self.maybe_reload()
        live = self._live
        restore = mode == "hybrid+restore"
        analysis = live.understanding.analyse(query, restore=restore)
        allowed = live.current_rows if not analysis.wants_superseded else np.ones(len(live.passages), dtype=bool)

        lexical = live.bundle.lexical
        scores = np.where(allowed, lexical.scores(analysis, restore=restore), 0.0)
        order = np.argsort(-scores, kind="stable")[:CANDIDATES]
        lexical_ranked = [(int(r), float(scores[r])) for r in order if scores[r] > 0]
        query_terms = content_tokens(folded_tokens(analysis.lexical_text(restore)))
        lexical_strength = min(LEXICAL_STRENGTH_CAP, float(scores.max(initial=0.0)) / max(1, len(query_terms)))

        # Both signals feed the decision in every mode, so every mode declines the same way.
        query_vector = self._query_vector(analysis.dense_text(restore))
        dense_ranked = [
            (row, score)
            for row, score in live.bundle.dense.search(query_vector, CANDIDATES + 10)
            if allowed[row]
        ][:CANDIDATES]
        dense_top = dense_ranked[0][1] if dense_ranked else 0.0

        if mode == "lexical":
            fused = _rank_scores([lexical_ranked])
        elif mode == "dense":
            fused = _rank_scores([dense_ranked])
        else:
            fused = _rank_scores([lexical_ranked, dense_ranked])
        signals = {
            "bm25": {row: i + 1 for i, (row, _) in enumerate(lexical_ranked)},
            "dense": {row: i + 1 for i, (row, _) in enumerate(dense_ranked)},
        }

        promoted, notes = self._explicit_references(live, analysis)
        ranking = list(dict.fromkeys([*promoted, *sorted(fused, key=lambda r: -fused[r])]))
        ranking = [r for r in ranking if allowed[r]]

        evidence = Evidence(
            dense_top=dense_top,
            lexical_strength=lexical_strength,
            foreign=not analysis.looks_vietnamese and not analysis.clause_refs,
            explicit_reference=bool(promoted),
        )
        answered = bool(ranking) and self.calibrations[mode].answers(evidence)

        top_score = max(fused.values(), default=0.0)
        # The highlight may also match what a term stands for (an English query, an acronym).
        sentence_terms = set(query_terms) | set(content_tokens(folded_tokens(" ; ".join(analysis.expansions))))
        hits = []
        for rank, row in enumerate(ranking[:k], start=1):
            score = fused.get(row, 0.0) if row not in promoted else top_score + (len(promoted) - promoted.index(row))
            hits.append(
                Hit(
                    passage=live.passages[row],
                    rank=rank,
                    score=round(float(score), 6),
                    best_sentence=_best_sentence(live, row, sentence_terms),
                    signals={name: ranks[row] for name, ranks in signals.items() if row in ranks},
                )
            )
        suggestions = () if answered else _suggestions(live, ranking)
        result = SearchResult(
            query=query,
            normalized_query=analysis.restored if restore else analysis.normalized,
            answered=answered,
            hits=tuple(hits),
            notes=tuple(notes),
            suggestions=suggestions,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        return result, evidence

    def _query_vector(self, text: str) -> np.ndarray:
        """The query embedding; people repeat questions, so recent ones are kept."""
        with self._vectors_lock:
            vector = self._query_vectors.get(text)
            if vector is not None:
                self._query_vectors.move_to_end(text)
                return vector
        vector = self.embedder.embed_queries([text])[0]
        with self._vectors_lock:
            self._query_vectors[text] = vector
            while len(self._query_vectors) > QUERY_VECTOR_CACHE:
                self._query_vectors.popitem(last=False)
        return vector

    def forget_query_vectors(self) -> None:
        """Empty the query-embedding cache (so measured latencies include the embedding)."""
        with self._vectors_lock:
            self._query_vectors.clear()

    def _explicit_references(self, live: _Live, analysis: QueryAnalysis) -> tuple[list[int], list[str]]:
        """Rows to put first for named clauses, and notes saying how 2008 clauses were mapped."""
        rows: list[int] = []
        notes: list[str] = []
        for number in analysis.refs_2008:
            row = live.understanding.correspondence.get(number)
            if row is None:
                continue
            notes.append(f"2008:{number} -> {', '.join(row.clauses_2015)}")
            if number in live.correspondence_rows:
                rows.append(live.correspondence_rows[number])
            rows += [live.clause_rows[c] for c in row.clauses_2015 if c in live.clause_rows]
        for number in analysis.clause_refs:
            own = live.clause_rows.get(number)
            if own is not None:
                rows.append(own)
        for number in analysis.clause_refs:
            rows += live.subclause_rows(number)[1:4]
        return list(dict.fromkeys(rows)), notes

    # ------------------------------------------------------------------ browsing
    def get_passage(self, passage_id: str) -> Passage | None:
        live = self._live
        row = live.by_id.get(passage_id)
        return live.passages[row] if row is not None else None

    def clause(self, number: str, edition: int = 2015):
        """2015: the clause's passage and its sub-clauses. 2008: a SearchResult through the correspondence table."""
        live = self._live
        number = number.strip().rstrip(".")
        if edition != 2008:
            return [live.passages[r] for r in live.subclause_rows(number)]
        started = time.perf_counter()
        analysis = QueryAnalysis(raw=number, normalized=number, restored=number, refs_2008=(number,))
        rows, notes = self._explicit_references(live, analysis)
        hits = tuple(
            Hit(passage=live.passages[r], rank=i, score=float(len(rows) - i + 1)) for i, r in enumerate(rows, start=1)
        )
        return SearchResult(
            query=number,
            normalized_query=number,
            answered=bool(hits),
            hits=hits,
            notes=tuple(notes),
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def related(self, passage_id: str, k: int = 5) -> list[Passage]:
        """Passages citing the same clauses first, then nearest neighbours by embedding."""
        live = self._live
        row = live.by_id.get(passage_id)
        if row is None:
            return []
        me = live.passages[row]
        mine = {me.clause} | set(me.iso_refs) if me.clause else set(me.iso_refs)
        mine.discard("")

        def shares_clause(p: Passage) -> bool:
            return any(r == m or r.startswith(m + ".") or m.startswith(r + ".") for r in p.iso_refs for m in mine)

        def place(p: Passage) -> str:
            # Five sections of one procedure are not five related places: one per clause or document.
            return f"clause:{p.clause}" if p.kind == "standard" and p.clause else f"doc:{p.doc_id}"

        candidates: list[int] = []
        for other, p in enumerate(live.passages):
            if other != row and live.current_rows[other] and p.doc_id != me.doc_id and shares_clause(p):
                candidates.append(other)
        for other, _ in live.bundle.dense.search(live.bundle.dense.vector(row), k + 20):
            if other != row and live.current_rows[other]:
                candidates.append(other)
        out: dict[str, int] = {place(me): row}
        for other in candidates:
            out.setdefault(place(live.passages[other]), other)
        return [live.passages[r] for r in list(out.values())[1:k + 1]]

    def document_passages(self, doc_id: str) -> list[Passage]:
        live = self._live
        return [live.passages[r] for r in live.doc_rows.get(doc_id, [])]

    def faq_entries(self) -> list[Passage]:
        return [p for p in self._live.passages if p.kind == "faq"]

    def procedures(self) -> list[Passage]:
        live = self._live
        seen: set[str] = set()
        out = []
        for p in live.passages:
            if p.kind == "procedure" and p.status != "superseded" and p.doc_id not in seen:
                seen.add(p.doc_id)
                out.append(p)
        return out


def _rank_scores(rankings: Sequence[Sequence[tuple[int, float]]]) -> dict[int, float]:
    """Reciprocal rank fusion of ranked (row, score) lists."""
    fused: dict[int, float] = {}
    for ranked in rankings:
        for rank, (row, _) in enumerate(ranked, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank)
    return fused


def _best_sentence(live: _Live, row: int, query_terms: set[str]) -> str:
    """The passage sentence sharing the most (IDF-weighted) words and word pairs with the query."""
    best, best_score = "", 0.0
    for text, tokens in live.sentence_tokens(row):
        score = sum(live.idf.get(t, 1.0) for t in tokens & query_terms)
        if score > best_score:
            best, best_score = text, score
    if not best:
        first = live.sentence_tokens(row)
        best = first[0][0] if first else normalize(live.passages[row].text)[:200]
    return best


def _suggestions(live: _Live, ranking: list[int], limit: int = 3) -> tuple[str, ...]:
    """Closest topics, as headings a user can ask about."""
    out: list[str] = []
    for row in ranking:
        p = live.passages[row]
        title = p.title if p.kind != "procedure" else f"{p.code} {p.doc_title}".strip()
        if title and fold(title) not in {fold(t) for t in out}:
            out.append(title)
        if len(out) >= limit:
            break
    return tuple(out)
