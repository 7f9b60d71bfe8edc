"""Grouping logged questions by similar wording, for the stats and unanswered reports."""
from __future__ import annotations

import re
from functools import lru_cache
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
# A group is matched through its first few distinct wordings only, which keeps a long log fast.
REPRESENTATIVES = 4
SIMILARITY = 0.5  # Jaccard over content words; 0.5 keeps "kiểm soát tài liệu ntn" with "kiem soat tai lieu"


class LoggedQuestion(Protocol):
    id: int
    text: str
    normalized_text: str
    answered: bool
    disliked: bool
    created_at: object


@lru_cache(maxsize=65536)
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

    clusters: list[list[LoggedQuestion]] = []
    cluster_of: dict[frozenset[str], int] = {}  # each distinct word set seen -> its cluster
    sets_with_word: dict[str, list[frozenset[str]]] = {}  # word -> representative word sets holding it
    representatives: list[int] = []
    for row in rows:
        words = content_words(row.normalized_text or row.text)
        home = cluster_of.get(words)
        if home is None:
            # Only word sets sharing a word, and of a size Jaccard >= threshold allows, can match.
            candidates = {other for w in words for other in sets_with_word.get(w, ())
                          if threshold * len(words) <= len(other) <= len(words) / threshold}
            best_sim = 0.0
            for other in candidates:
                sim = similarity(words, other)
                if sim > best_sim or (sim == best_sim and home is not None and cluster_of[other] < home):
                    home, best_sim = cluster_of[other], sim
            if home is None or best_sim < threshold:
                home = len(clusters)
                clusters.append([])
                representatives.append(0)
            cluster_of[words] = home
            if representatives[home] < REPRESENTATIVES:
                representatives[home] += 1
                for w in words:
                    sets_with_word.setdefault(w, []).append(words)
        clusters[home].append(row)

    groups = []
    for members in clusters:
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
