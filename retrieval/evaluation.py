"""Retrieval evaluation on a JSON Lines question set (DESIGN.md "Evaluation format").

A result matches a question when its `clause` or one of its `iso_refs` equals an expected clause
or lies under it (7.5.3 matches 7.5), or when its text contains every term of one
`expected_terms` group (case- and diacritic-insensitive). A question is a hit at k when a match is
in the top k and the searcher answered; `expect_no_answer` questions are correct when it declines.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from retrieval.textproc import fold, normalize
from retrieval.types import Passage

KS = (1, 3, 5)
MRR_DEPTH = 10


class EvalFormatError(ValueError):
    """A line of the question file is not a valid question; the message says file:line: reason."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    expected_clauses: tuple[str, ...] = ()
    expected_terms: tuple[tuple[str, ...], ...] = ()
    expect_no_answer: bool = False
    kind: str = ""
    style: str = ""


@dataclass(frozen=True)
class Outcome:
    """What happened to one question."""

    question: Question
    answered: bool
    first_match: int  # 1-based rank of the first matching result in the top MRR_DEPTH, 0 if none
    latency_ms: float
    passage_ids: tuple[str, ...] = ()
    evidence: object = None  # retrieval.search.Evidence: the decision signals, for scripts/calibrate.py

    def hit_at(self, k: int) -> bool:
        return self.answered and 0 < self.first_match <= k

    @property
    def correct(self) -> bool:
        """Declined when it should, or answered with a match in the top 3."""
        return not self.answered if self.question.expect_no_answer else self.hit_at(3)


def load_questions(path: Path | str) -> list[Question]:
    """Read a JSON Lines question file (blank lines and lines starting with // are skipped)."""
    path = Path(path)
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        try:
            data = json.loads(line)
            out.append(
                Question(
                    id=str(data["id"]),
                    question=str(data["question"]),
                    expected_clauses=tuple(str(c).strip().rstrip(".") for c in data.get("expected_clauses") or ()),
                    expected_terms=tuple(tuple(str(t) for t in group) for group in data.get("expected_terms") or ()),
                    expect_no_answer=bool(data.get("expect_no_answer", False)),
                    kind=str(data.get("kind", "")),
                    style=str(data.get("style", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalFormatError(f"{path}:{number}: {type(exc).__name__}: {exc}") from None
    return out


def _comparable(text: str) -> str:
    return " ".join(fold(normalize(text)).split())


def matches(passage: Passage, question: Question) -> bool:
    """DESIGN.md's matching rule for one result."""
    refs = [r for r in (passage.clause, *passage.iso_refs) if r]
    for expected in question.expected_clauses:
        if any(r == expected or r.startswith(expected + ".") for r in refs):
            return True
    if question.expected_terms:
        text = _comparable(passage.text)
        for group in question.expected_terms:
            if group and all(_comparable(term) in text for term in group):
                return True
    return False


def run_question(searcher, question: Question, mode: str) -> Outcome:
    result, evidence = searcher.search_with_evidence(question.question, k=MRR_DEPTH, mode=mode)
    first = next((h.rank for h in result.hits if matches(h.passage, question)), 0)
    return Outcome(
        question=question,
        answered=result.answered,
        first_match=first,
        latency_ms=result.latency_ms,
        passage_ids=tuple(h.passage.id for h in result.hits),
        evidence=evidence,
    )


def evaluate(searcher, questions: Sequence[Question], mode: str) -> list[Outcome]:
    # Latencies must include the query embedding even when another mode embedded the same text.
    searcher.forget_query_vectors()
    return [run_question(searcher, q, mode) for q in questions]


def _ratio(numerator: float, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 2)


def _core_metrics(outcomes: Sequence[Outcome]) -> dict:
    answerable = [o for o in outcomes if not o.question.expect_no_answer]
    unanswerable = [o for o in outcomes if o.question.expect_no_answer]
    metrics: dict = {"n": len(outcomes)}
    for k in KS:
        metrics[f"hit@{k}"] = _ratio(sum(o.hit_at(k) for o in answerable), len(answerable))
    metrics[f"mrr@{MRR_DEPTH}"] = _ratio(
        sum(1.0 / o.first_match for o in answerable if o.answered and o.first_match), len(answerable)
    )
    metrics["no_answer_accuracy"] = _ratio(sum(not o.answered for o in unanswerable), len(unanswerable))
    metrics["false_no_answer_rate"] = _ratio(sum(not o.answered for o in answerable), len(answerable))
    return metrics


def _grouped(outcomes: Iterable[Outcome], key) -> dict:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(key(o) or "unknown", []).append(o)
    return {name: _core_metrics(group) for name, group in sorted(groups.items())}


def summarize(outcomes: Sequence[Outcome]) -> dict:
    """The DESIGN.md metrics JSON for one configuration."""
    metrics = _core_metrics(outcomes)
    metrics["by_style"] = _grouped(outcomes, lambda o: o.question.style)
    metrics["by_kind"] = _grouped(outcomes, lambda o: o.question.kind)
    latencies = [o.latency_ms for o in outcomes]
    metrics["latency_ms"] = {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95)}
    return metrics


def failures(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Questions answered wrongly (for reading, not for tuning on ids)."""
    return [o for o in outcomes if not o.correct]
