"""Whether a word is a well-formed Vietnamese syllable (used to judge encodings and rejoin split words)."""
from __future__ import annotations

import unicodedata
from functools import lru_cache

TONE_MARKS = {"\u0300": "grave", "\u0301": "acute", "\u0309": "hook", "\u0303": "tilde", "\u0323": "dot"}

_INITIALS = ("ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr",
             "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "")
_FINALS = ("ch", "ng", "nh", "c", "m", "n", "p", "t", "")
_STOP_FINALS = ("c", "ch", "p", "t")
_HATTED = "ăâêôơư"

# Vowel clusters (without tone marks) -> whether a final consonant may follow: "no", "must", "may".
_NUCLEI = {
    **{n: "no" for n in "ai ao au ay âu ây eo êu ia iu oi ôi ơi ui ưi ưu ưa ua iêu oai oao oay oeo uây uôi "
                        "ươi ươu yêu uya uyu".split()},
    **{n: "must" for n in "ă â iê yê uô ươ oă uâ uyê".split()},
    **{n: "may" for n in "a e ê i o ô ơ u ư y oa oe oo uê uơ uy".split()},
}


_NUCLEI_BY_FIRST: dict[str, list[tuple[str, str]]] = {}
for _nucleus, _rule in _NUCLEI.items():
    _NUCLEI_BY_FIRST.setdefault(_nucleus[0], []).append((_nucleus, _rule))


def split_tone(word: str) -> tuple[str, str | None, int]:
    """(word without tone marks, the tone name or None, how many tone marks it carried)."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = [TONE_MARKS[c] for c in decomposed if c in TONE_MARKS]
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    return base, (tones[0] if tones else None), len(tones)


def _tone_index(word: str) -> int:
    for i, char in enumerate(unicodedata.normalize("NFC", word)):
        if any(c in TONE_MARKS for c in unicodedata.normalize("NFD", char)):
            return i
    return -1


def _tone_places(nucleus: str, has_final: bool) -> set[int]:
    """Where in the vowel cluster the tone mark may sit (old and new placement styles both allowed)."""
    hatted = [i for i, c in enumerate(nucleus) if c in _HATTED]
    if hatted:
        return {hatted[-1]}
    if len(nucleus) == 1:
        return {0}
    if len(nucleus) == 3:
        return {1}
    if nucleus in ("oa", "oe", "uy", "oo"):
        return {1} if has_final else {0, 1}
    return {1} if has_final else {0}


@lru_cache(maxsize=65536)
def is_syllable(word: str) -> bool:
    """True for 'điều', 'khoản', 'QUY', 'hoà'; False for 'điề', 'ISO', 'mơc', 'maõ' (tone on the wrong vowel)."""
    word = unicodedata.normalize("NFC", word.lower())
    base, tone, count = split_tone(word)
    if count > 1 or not base or len(base) != len(word):
        return False
    tone_at = _tone_index(word)
    for initial in _INITIALS:
        if not base.startswith(initial):
            continue
        rest = base[len(initial) :]
        for nucleus, rule in _NUCLEI_BY_FIRST.get(rest[:1], ()):
            if not rest.startswith(nucleus):
                continue
            final = rest[len(nucleus) :]
            if final not in _FINALS or (rule == "no" and final) or (rule == "must" and not final):
                continue
            if final in _STOP_FINALS and final and tone not in ("acute", "dot"):
                continue
            if tone_at >= 0 and tone_at - len(initial) not in _tone_places(nucleus, bool(final)):
                continue
            return True
    return False


def has_tone(word: str) -> bool:
    return split_tone(word)[2] > 0
