"""Vietnamese text processing shared by indexing and querying: normalise, segment, fold, tokenise.

One convention everywhere: Unicode NFC, tone marks in the "hòa / thúy / khỏe" placement (the
style most agency documents and keyboards produce), single spaces. Corpus text and queries go
through the same functions so that the lexical index and the query always agree.
"""
from __future__ import annotations

import re
import threading
import unicodedata

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng (combining)
# In NFD a tone mark sits right after its base letter; these open syllables are the ones whose
# placement differs between the old and new conventions (hoà/hòa, thuý/thúy, khoẻ/khỏe).
_OPEN_OA_OE = re.compile(rf"(?<![qQ])([oO])([aAeE])([{_TONE_MARKS}])(?![\w])")
_OPEN_UY = re.compile(rf"(?<![qQ])([uU])([yY])([{_TONE_MARKS}])(?![\w])")
_SPACES = re.compile(r"\s+")
# A mark with no letter under it (pasted text, broken keyboards) would survive stripping.
_STRAY_MARKS = re.compile(r"(^|\s)[\u0300-\u036f]+")

_WORD = re.compile(r"\d+(?:[.,:/]\d+)*|\w+(?:-\w+)*")
_HAS_LETTER_OR_DIGIT = re.compile(r"\w")


def normalize(text: str) -> str:
    """NFC, one tone-mark placement style, collapsed whitespace, stripped."""
    if not text:
        return ""
    decomposed = _STRAY_MARKS.sub(r"\1", unicodedata.normalize("NFD", text))
    decomposed = _OPEN_OA_OE.sub(r"\1\3\2", decomposed)
    decomposed = _OPEN_UY.sub(r"\1\3\2", decomposed)
    return _SPACES.sub(" ", unicodedata.normalize("NFC", decomposed)).strip()


def fold(text: str) -> str:
    """Lower-case text without any diacritics (đ -> d): 'Đánh giá' -> 'danh gia'."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def has_diacritics(text: str) -> bool:
    """True when any letter carries a Vietnamese mark (or is đ)."""
    return fold(text) != text.lower()


def words(text: str) -> list[str]:
    """Lower-cased word tokens (clause numbers like 7.5.3 stay one token), no punctuation."""
    return _WORD.findall(text.lower())


class _Segmenter:
    """underthesea's word segmenter, loaded once per process (the first call costs ~3 s)."""

    _lock = threading.Lock()
    _tokenize = None

    @classmethod
    def get(cls):
        if cls._tokenize is None:
            with cls._lock:
                if cls._tokenize is None:
                    from underthesea import word_tokenize

                    word_tokenize("khởi động", format="text")
                    cls._tokenize = word_tokenize
        return cls._tokenize


def warm_up() -> None:
    """Load the segmentation model now rather than on the first user query."""
    _Segmenter.get()


def segment(text: str) -> str:
    """underthesea word segmentation, multi-syllable words joined with '_' ('kiểm_soát tài_liệu')."""
    text = normalize(text)
    if not text:
        return ""
    tokenize = _Segmenter.get()
    # The CRF tagger underneath is one shared object; the bot searches from worker threads.
    with _Segmenter._lock:
        return tokenize(text, format="text")


def segmented_tokens(text: str) -> list[str]:
    """Tokens for the BM25 'words' field: segmented, lower-cased, punctuation dropped."""
    out = []
    for token in segment(text).lower().split():
        if not _HAS_LETTER_OR_DIGIT.search(token):
            continue
        token = token.strip(".,;:!?()[]\"'“”‘’…")
        if token:
            out.append(token)
    return out


def folded_tokens(text: str) -> list[str]:
    """Tokens for the BM25 'folded' field: unaccented syllables plus adjacent-syllable pairs.

    Pairs keep some of the precision that folding loses ('tai lieu' vs 'tai' + 'lieu').
    """
    syllables = words(fold(normalize(text)))
    pairs = [f"{a}_{b}" for a, b in zip(syllables, syllables[1:])]
    return syllables + pairs


# A colon stays inside its sentence: record lists read "Form (BM-03-01): kept 3 years".
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\w“\"(-])|\n+")


def sentences(text: str) -> list[str]:
    """Split a passage into sentences and list items (for best-sentence highlighting)."""
    out = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip().lstrip("-*•+ ").strip()
        if len(piece) >= 3 and _HAS_LETTER_OR_DIGIT.search(piece):
            out.append(piece)
    return out
