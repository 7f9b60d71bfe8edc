"""Query understanding: turn a message as staff type it into a QueryAnalysis the retrievers use.

Handles chat abbreviations, explicit clause references (2015 and 2008 editions), glossary
expansion, a request for old procedure versions, and restoring diacritics to queries typed
without them, using the corpus's own vocabulary (folded syllable -> accented forms, with
accented syllable pairs as context).
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from retrieval.textproc import fold, has_diacritics, normalize, words
from retrieval.types import CorrespondenceRow, GlossaryEntry, Passage

# Chat shorthand -> the word it stands for. Only forms that are unambiguous in questions about
# ISO procedures; "tl" (tài liệu / trả lời) and "qd" (quy định / quyết định) are left alone, and
# "dk"/"đk" mean "được" far more often than "đăng ký" in chat questions about obligations.
ABBREVIATIONS = {
    "k": "không", "ko": "không", "kh": "không", "khg": "không", "kg": "không", "k0": "không",
    "hok": "không", "hem": "không", "hong": "không",
    "dc": "được", "đc": "được", "dk": "được", "đk": "được",
    "j": "gì", "ntn": "như thế nào", "vs": "với", "bn": "bao nhiêu",
    "mk": "mình", "mik": "mình", "mh": "mình", "ae": "anh em", "cq": "cơ quan", "ng": "người",
    "cx": "cũng", "cg": "cũng", "lm": "làm", "ms": "mới", "trc": "trước", "sd": "sử dụng",
    "vb": "văn bản", "hs": "hồ sơ", "bh": "bao giờ", "kq": "kết quả", "bc": "báo cáo",
    "r": "rồi", "bít": "biết", "bik": "biết", "ak": "à", "z": "vậy", "v": "vậy", "nhiu": "nhiêu",
    "ntnao": "như thế nào", "thik": "thích", "tks": "cảm ơn",
}

_TOKEN = re.compile(r"\w+", re.UNICODE)

# Clause numbers: "7.5.3", "8.5", "10"; a keyword may precede them.
_CLAUSE_KEYWORD = re.compile(
    r"\b(?:dieu|muc|khoan|clause|section|tieu muc|diem|yeu cau)\s*(\d{1,2}(?:\.\d{1,2}){0,3})(?![\d/:])",
)
_BARE_CLAUSE = re.compile(r"(?<![\d.:/,])(\d{1,2}(?:\.\d{1,2}){1,3})(?![\d/:]|\.\d)")
_EDITION_2008 = re.compile(r"\b2008\b|\bban cu\b|\bphien ban cu\b|\bban truoc\b")
_EDITION_2015 = re.compile(r"\b2015\b")
# Wording that asks for an old procedure version. Not "thay thế" alone: "what replaced
# preventive action" is a transition question, not a request for superseded procedures.
_OLD_VERSION = re.compile(
    r"\b(?:ban|phien ban|quy trinh|qt) cu\b|\blan ban hanh (?:truoc|cu|\d+)\b|\bversion \d+\b|\bv\d{2}\b"
    r"|\bda (?:duoc |bi )?thay the\b|\bhet hieu luc\b|\btruoc day\b"
)

# Question and function words that say nothing about the topic; dropped from lexical queries.
# Compared folded so they match with or without marks, hence no folded form that is also a
# content word here ("cua" = của/cửa, "tai" = tại/tài, "dang" = đang/dạng, "vi" = vì/phạm vi).
STOPWORDS = frozenset(
    """a ah ai anh bi cac can cho chua co con da day den di do duoc gi hay khi khong la lam len ma
    minh mot nao nay neu nhe nhi nhu nhung o oi phai ra roi sao se the thi thoi tren trong va vay
    ve voi xin dieu muc khoan
    what how which who when where why is are the a an of to in for do does does on and or my our
    with be can i we you it this that there clause section""".split()
)


@dataclass(frozen=True)
class QueryAnalysis:
    """Everything the retrievers need to know about one query."""

    raw: str
    normalized: str  # NFC, tone style, abbreviations expanded
    restored: str  # diacritics restored when the query was typed without them, else == normalized
    was_restored: bool = False
    looks_vietnamese: bool = True  # has marks, or its words are (unaccented) corpus syllables
    clause_refs: tuple[str, ...] = ()  # 2015 clauses named explicitly
    refs_2008: tuple[str, ...] = ()  # 2008 clauses named explicitly
    expansions: tuple[str, ...] = ()  # glossary meanings of terms found in the query
    # The subset for terms that are not Vietnamese words (HTQLCL, TTHC, "internal audit"): the
    # query's own words mean nothing to the corpus there, so these count fully.
    spelled_out: tuple[str, ...] = ()
    wants_superseded: bool = False  # the user asks about an old procedure version

    def lexical_text(self, restore: bool = True) -> str:
        """Text for the BM25 query: the (restored) query; expansions are scored separately."""
        return self.restored if restore else self.normalized

    def dense_text(self, restore: bool = True) -> str:
        """Text for the query embedding: the (restored) query, spelled-out terms in brackets.

        Synonym expansions stay out of Vietnamese queries: appended to a short question they pull
        the embedding towards the generic definition passages ("hồ sơ" -> "thông tin dạng văn bản").
        """
        base = self.restored if restore else self.normalized
        # A question in another language gets all its Vietnamese equivalents: cross-lingual
        # similarity alone is weak with this model.
        extra = self.expansions if not self.looks_vietnamese else self.spelled_out
        if extra:
            return f"{base} ({'; '.join(extra)})"
        return base


def expand_abbreviations(text: str) -> str:
    """'ko dc j' -> 'không được gì'; only whole tokens, case-insensitive."""

    def replace(match: re.Match) -> str:
        word = match.group(0)
        return ABBREVIATIONS.get(word.lower(), word)

    return _TOKEN.sub(replace, text)


class DiacriticRestorer:
    """Restores marks on unaccented syllables from the corpus's own vocabulary (Viterbi over pairs)."""

    MAX_CANDIDATES = 6
    PAIR_WEIGHT = 0.85  # interpolation between pair and single-syllable evidence

    def __init__(self, texts: Iterable[str]):
        self.unigrams: Counter = Counter()
        self.bigrams: Counter = Counter()
        for text in texts:
            syllables = words(normalize(text))
            self.unigrams.update(syllables)
            self.bigrams.update(zip(syllables, syllables[1:]))
        self.total = sum(self.unigrams.values()) or 1
        by_folded: dict[str, Counter] = defaultdict(Counter)
        for syllable, count in self.unigrams.items():
            by_folded[fold(syllable)][syllable] += count
        self.candidates = {
            folded: [s for s, _ in counts.most_common(self.MAX_CANDIDATES)] for folded, counts in by_folded.items()
        }

    def known_fraction(self, tokens: Sequence[str]) -> float:
        """Share of tokens that are folded forms of corpus syllables with marks."""
        if not tokens:
            return 0.0
        known = sum(1 for t in tokens if any(c != t for c in self.candidates.get(fold(t), ())))
        return known / len(tokens)

    def _log_p(self, prev: str | None, cur: str) -> float:
        uni = (self.unigrams.get(cur, 0) + 0.1) / self.total
        if prev is None:
            return math.log(uni)
        prev_count = self.unigrams.get(prev, 0)
        pair = self.bigrams.get((prev, cur), 0) / prev_count if prev_count else 0.0
        return math.log(self.PAIR_WEIGHT * pair + (1 - self.PAIR_WEIGHT) * uni)

    def restore_tokens(self, tokens: Sequence[str]) -> list[str]:
        """Best accented form for each unaccented token; accented tokens are kept as they are."""
        lattice = []
        for token in tokens:
            low = token.lower()
            if has_diacritics(low) or low not in self.candidates:
                lattice.append([low])
            else:
                lattice.append(self.candidates[low])
        # Viterbi: best[i][cand] = (score, backpointer)
        best: list[dict[str, tuple[float, str | None]]] = []
        for i, cands in enumerate(lattice):
            column = {}
            for cand in cands:
                if i == 0:
                    column[cand] = (self._log_p(None, cand), None)
                else:
                    column[cand] = max(
                        ((score + self._log_p(prev, cand), prev) for prev, (score, _) in best[-1].items()),
                        key=lambda x: x[0],
                    )
            best.append(column)
        if not best:
            return []
        cand, (_, back) = max(best[-1].items(), key=lambda kv: kv[1][0])
        out = [cand]
        for i in range(len(best) - 1, 0, -1):
            out.append(back)
            back = best[i - 1][back][1]
        out.reverse()
        return out

    def restore(self, text: str) -> str:
        """Restore marks in text, keeping punctuation, numbers and case of unchanged words."""
        return self.restore_with_support(text)[0]

    def restore_with_support(self, text: str) -> tuple[str, float]:
        """Restored text, and the share of its adjacent word pairs the corpus actually contains."""
        pieces = re.split(r"(\w+)", text)
        tokens = pieces[1::2]
        restored = self.restore_tokens(tokens)
        for i, new in enumerate(restored):
            old = tokens[i]
            if new != old.lower():
                pieces[2 * i + 1] = new.capitalize() if old[:1].isupper() else new
        # Numbers and codes say nothing about whether the words around them belong together.
        pairs = [(a, b) for a, b in zip(restored, restored[1:]) if not (a.isdigit() or b.isdigit())]
        if not pairs:
            return "".join(pieces), float(bool(restored) and restored[0] in self.unigrams)
        return "".join(pieces), sum(1 for pair in pairs if pair in self.bigrams) / len(pairs)


class QueryUnderstanding:
    """Built once per index bundle: knows its clauses, correspondence table and glossary."""

    MIN_KNOWN_FOR_RESTORE = 0.6
    # Restoring words the corpus never uses together invents a question ("cong thuc nau pho bo"
    # -> "công thực nau phó bộ") that then looks close to real passages; keep such queries folded.
    MIN_PAIR_SUPPORT = 0.5

    def __init__(
        self,
        passages: Sequence[Passage],
        correspondence: Sequence[CorrespondenceRow] = (),
        glossary: Sequence[GlossaryEntry] = (),
    ):
        self.clauses_2015 = frozenset(p.clause for p in passages if p.kind == "standard" and p.clause)
        self.correspondence = {row.clause_2008: row for row in correspondence}
        self.restorer = DiacriticRestorer(
            " ".join((*p.heading_path, p.text)) for p in passages if p.status != "superseded"
        )
        self._glossary = []
        for entry in glossary:
            folded_term = " ".join(words(fold(normalize(entry.term))))
            if folded_term:
                term_words = _TOKEN.findall(normalize(entry.term))
                is_acronym = len(term_words) == 1 and entry.term.upper() == entry.term
                is_foreign = not has_diacritics(entry.term) and self.restorer.known_fraction(term_words) < 0.5
                self._glossary.append(
                    (folded_term, tuple(normalize(m) for m in entry.means), is_acronym or is_foreign)
                )

    def analyse(self, query: str, *, restore: bool = True) -> QueryAnalysis:
        raw = query
        user_text = normalize(query)
        normalized = normalize(expand_abbreviations(user_text))
        folded = " ".join(words(fold(normalized)))

        restored, was_restored = normalized, False
        user_tokens = _TOKEN.findall(user_text)
        looks_vietnamese = has_diacritics(user_text) or (
            bool(user_tokens) and self.restorer.known_fraction(user_tokens) >= self.MIN_KNOWN_FOR_RESTORE
        )
        if restore and looks_vietnamese and not has_diacritics(user_text):
            candidate, support = self.restorer.restore_with_support(normalized)
            if support >= self.MIN_PAIR_SUPPORT:
                restored, was_restored = candidate, candidate != normalized

        clause_refs, refs_2008 = self._clause_refs(folded)
        expansions, spelled_out = self._expansions(folded)
        return QueryAnalysis(
            raw=raw,
            normalized=normalized,
            restored=restored,
            was_restored=was_restored,
            looks_vietnamese=looks_vietnamese,
            clause_refs=clause_refs,
            refs_2008=refs_2008,
            expansions=expansions,
            spelled_out=spelled_out,
            wants_superseded=bool(_OLD_VERSION.search(folded)),
        )

    def _clause_refs(self, folded: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        numbers = [m.group(1) for m in _CLAUSE_KEYWORD.finditer(folded)]
        numbers += [m.group(1) for m in _BARE_CLAUSE.finditer(folded)]
        numbers = list(dict.fromkeys(n for n in numbers if "." in n or int(n) in range(4, 11)))
        mentions_2008 = bool(_EDITION_2008.search(folded))
        refs_2015, refs_2008 = [], []
        for number in numbers:
            in_2015 = number in self.clauses_2015
            in_2008 = number in self.correspondence
            if in_2008 and (mentions_2008 or not in_2015):
                refs_2008.append(number)
            elif in_2015:
                refs_2015.append(number)
        return tuple(refs_2015), tuple(refs_2008)

    def _expansions(self, folded: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        padded = f" {folded} "
        out: list[str] = []
        spelled_out: list[str] = []
        query_words = set(folded.split())
        for term, means, is_spelled_out in self._glossary:
            if f" {term} " in padded:
                for meaning in means:
                    meaning_words = words(fold(meaning))
                    # "ISO" -> "TCVN ISO 9001:2015" adds nothing to "ISO 9001:2015 requires ...".
                    if sum(w in query_words for w in meaning_words) * 2 >= len(meaning_words):
                        continue
                    if meaning not in out:
                        out.append(meaning)
                        if is_spelled_out:
                            spelled_out.append(meaning)
        return tuple(out), tuple(spelled_out)


def content_tokens(tokens: Iterable[str]) -> list[str]:
    """Drop question/function words (compared folded) from a token list."""
    return [t for t in tokens if not _is_stop(t)]


def _is_stop(token: str) -> bool:
    parts = fold(token).split("_")
    # A segmented word ("như_thế_nào") is a stopword when all its parts are; a folded syllable
    # pair ("lieu_nhu") is noise as soon as one side is.
    if len(parts) == 2 and "_" in token and not has_diacritics(token):
        return any(part in STOPWORDS for part in parts)
    return all(part in STOPWORDS for part in parts)
