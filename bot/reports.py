"""Grouping logged questions by similar wording, for the stats and unanswered reports."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Iterable, Protocol

# Folded (no diacritics) function words and chat abbreviations that say nothing about the topic.
STOPWORDS = frozenset(
    """
    a ah a? oi nhe nha voi cho toi minh em anh chi ban ad admin bot hoi xin cam on
    la gi j the nao ntn nhu co khong ko k hok hong duoc dc dk phai can nen thi ma
    va hay hoac cua o tai trong ve theo de vao ra len nay do kia nhung cac mot nhieu
    what is the a an of in on for to how do does which about please
    """.split()
)
SIMILARITY = 0.5  # Jaccard over content words; 0.5 keeps "kiểm soát tài liệu ntn" with "kiem soat tai lieu"


class LoggedQuestion(Protocol):
    id: int
    text: str
    normalized_text: str
    answered: bool
    disliked: bool
    created_at: object


def fold(text: str) -> str:
    """Lower-case, strip diacritics (đ → d) and punctuation, so wordings with and without marks compare equal."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return re.sub(r"[^\w.]+|(?<!\d)\.|\.(?!\d)", " ", text).strip()


def content_words(text: str) -> frozenset[str]:
    words = [w.replace("_", " ") for w in fold(text).split()]
    kept = frozenset(w for w in words if w not in STOPWORDS)
    return kept or frozenset(words)


def group_key(text: str) -> str:
    """Exact-wording key for 'top questions': folded content words in order."""
    words = [w for w in fold(text).split() if w not in STOPWORDS]
    return " ".join(words) or fold(text)


def ranked_wordings(wordings: Counter) -> list[str]:
    """Most frequent first; on a tie the wording with diacritics, which reads better in a report."""
    marked = lambda t: sum(1 for ch in t if ord(ch) > 127)  # noqa: E731
    return sorted(wordings, key=lambda t: (-wordings[t], -marked(t), -len(t), t))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def cluster_questions(rows: Iterable[LoggedQuestion], threshold: float = SIMILARITY):
    """Greedy single-link clustering on content-word overlap; biggest group first."""
    from bot.database import UnansweredGroup

    clusters: list[list[tuple[LoggedQuestion, frozenset[str]]]] = []
    for row in rows:
        words = content_words(row.normalized_text or row.text)
        best, best_sim = None, 0.0
        for cluster in clusters:
            sim = max(similarity(words, other) for _, other in cluster)
            if sim > best_sim:
                best, best_sim = cluster, sim
        if best is not None and best_sim >= threshold:
            best.append((row, words))
        else:
            clusters.append([(row, words)])

    groups = []
    for cluster in clusters:
        members = [row for row, _ in cluster]
        wordings = Counter(row.text.strip() for row in members)
        ranked = ranked_wordings(wordings)
        groups.append(
            UnansweredGroup(
                label=ranked[0],
                count=len(members),
                declined=sum(1 for r in members if not r.answered),
                disliked=sum(1 for r in members if r.disliked),
                examples=tuple(ranked[:5]),
                last_asked=max(r.created_at for r in members),
                question_ids=tuple(r.id for r in members),
            )
        )
    groups.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return groups
