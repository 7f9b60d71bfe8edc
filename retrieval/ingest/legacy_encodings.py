"""Detect Vietnamese text typed in the legacy TCVN3 (ABC, .VnTime fonts) or VNI encodings and convert it to Unicode.

Legacy text reaches us as the Latin-1 characters of its bytes (a Word file keeps the byte 0xB8 of
'á' in TCVN3 as U+00B8 '¸'), so both tables map Latin-1 characters to Unicode letters.

- TCVN3 (TCVN 5712:1993, table VN3): one byte per letter; only lower-case toned letters and the
  seven upper-case base letters Ă Â Ê Ô Ơ Ư Đ have codes. Upper-case toned letters were typed with
  the same codes in an all-capitals font (.VnTimeH), so text in such a font is upper-cased.
- VNI (VNI-Windows): a base letter followed by one mark character (or one standalone character
  for ơ ư đ and the i/ỵ forms); the mark's case follows the letter's case.
"""
from __future__ import annotations

import re
import string
import unicodedata

from retrieval.ingest.syllables import is_syllable

UNICODE, TCVN3, VNI = "unicode", "tcvn3", "vni"

_VOWELS = "a ă â e ê i o ô ơ u ư y".split()
_TONES = ("grave", "hook", "tilde", "acute", "dot")
_COMBINING = {"grave": "\u0300", "hook": "\u0309", "tilde": "\u0303", "acute": "\u0301", "dot": "\u0323"}


def _toned(vowel: str, tone: str | None) -> str:
    return unicodedata.normalize("NFC", vowel + (_COMBINING[tone] if tone else ""))


# --- TCVN3 ------------------------------------------------------------------------------------

# Code of each toneless letter, then the codes of its five toned forms in the table's order
# (grave, hook, tilde, acute, dot).
_TCVN3_BASES = {"Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
                "ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE}
_TCVN3_TONED = {
    "a": (0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}


def _tcvn3_table() -> dict[str, str]:
    table = {chr(code): letter for letter, code in _TCVN3_BASES.items()}
    for vowel, codes in _TCVN3_TONED.items():
        for tone, code in zip(_TONES, codes):
            table[chr(code)] = _toned(vowel, tone)
    return table


TCVN3_TO_UNICODE: dict[str, str] = _tcvn3_table()
UNICODE_TO_TCVN3: dict[str, str] = {u: t for t, u in TCVN3_TO_UNICODE.items()}
_TCVN3_DECODE = str.maketrans(TCVN3_TO_UNICODE)


def tcvn3_to_unicode(text: str, *, capitals_font: bool = False) -> str:
    """Convert TCVN3 text; `capitals_font` for text set in an all-capitals font such as .VnTimeH."""
    converted = text.translate(_TCVN3_DECODE)
    return converted.upper() if capitals_font else converted


def restore_capitals(line: str) -> str:
    """Upper-case the toned letters of capitalised TCVN3 words ('QUảN Lý CON DấU' -> 'QUẢN LÝ CON DẤU').

    TCVN3 has no codes for upper-case toned letters; Word files keep the all-capitals font name
    that says so, a PDF does not, so capitals are inferred from the ASCII letters around them.
    """
    words = line.split(" ")

    def only_legacy_lower(word: str) -> bool:
        return all(not c.isascii() for c in word if c.isalpha() and c.islower())

    def upper_letters(word: str) -> int:
        return sum(1 for c in word if c.isupper())

    words = [w.upper() if upper_letters(w) >= 2 and only_legacy_lower(w) else w for w in words]
    lettered = [w for w in words if any(c.isalpha() for c in w)]
    capitalised = [w for w in lettered if not any(c.islower() for c in w)]
    if len(lettered) >= 3 and len(capitalised) >= 0.6 * len(lettered):
        words = [w.upper() if only_legacy_lower(w) and upper_letters(w) >= 1 else w for w in words]
    return " ".join(words)


def unicode_to_tcvn3(text: str) -> str:
    """Encode Unicode as TCVN3; upper-case toned letters take their lower-case codes (as typists did)."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        code = UNICODE_TO_TCVN3.get(char) or UNICODE_TO_TCVN3.get(char.lower())
        out.append(code if code is not None else char)
    return "".join(out)


# --- VNI --------------------------------------------------------------------------------------

# Mark characters (lower-case form; the upper-case form is str.upper of it) by (hat, tone).
_VNI_TONE = {"grave": "ø", "hook": "û", "tilde": "õ", "acute": "ù", "dot": "ï"}
_VNI_CIRCUMFLEX = {None: "â", "grave": "à", "hook": "å", "tilde": "ã", "acute": "á", "dot": "ä"}
_VNI_BREVE = {None: "ê", "grave": "è", "hook": "ú", "tilde": "ü", "acute": "é", "dot": "ë"}
# Letters VNI writes as one character of their own.
_VNI_SINGLE = {"đ": "ñ", "ơ": "ô", "ư": "ö", "ì": "ì", "ỉ": "æ", "ĩ": "ó", "í": "í", "ị": "ò", "ỵ": "î"}


def _vni_pairs() -> dict[str, str]:
    """Unicode letter -> its VNI spelling, lower and upper case."""
    pairs: dict[str, str] = {}
    for letter, code in _VNI_SINGLE.items():
        pairs[letter] = code
    for vowel in _VOWELS:
        for tone in (None,) + _TONES:
            letter = _toned(vowel, tone)
            if letter in pairs:
                continue
            if vowel in ("â", "ê", "ô"):
                spelling = {"â": "a", "ê": "e", "ô": "o"}[vowel] + _VNI_CIRCUMFLEX[tone]
            elif vowel == "ă":
                spelling = "a" + _VNI_BREVE[tone]
            elif vowel in ("ơ", "ư"):
                spelling = _VNI_SINGLE[vowel] + (_VNI_TONE[tone] if tone else "")
            elif tone is None:
                continue  # a plain a e i o u y is the same in VNI
            else:
                spelling = vowel + _VNI_TONE[tone]
            pairs[letter] = spelling
    pairs.update({letter.upper(): spelling.upper() for letter, spelling in list(pairs.items())})
    return pairs


UNICODE_TO_VNI: dict[str, str] = _vni_pairs()


def _vni_decode_map() -> dict[str, str]:
    decode = {spelling: letter for letter, spelling in UNICODE_TO_VNI.items()}
    # Capitalised words mix an upper-case letter with a lower-case mark ('Aù'); the letter's case wins.
    for spelling, letter in list(decode.items()):
        if len(spelling) == 2:
            for variant in (spelling[0] + spelling[1].swapcase(),):
                decode.setdefault(variant, letter)
    return decode


VNI_TO_UNICODE: dict[str, str] = _vni_decode_map()
_VNI_RE = re.compile("|".join(re.escape(k) for k in sorted(VNI_TO_UNICODE, key=len, reverse=True)))


def vni_to_unicode(text: str) -> str:
    return _VNI_RE.sub(lambda m: VNI_TO_UNICODE[m.group(0)], text)


def unicode_to_vni(text: str) -> str:
    return "".join(UNICODE_TO_VNI.get(c, c) for c in unicodedata.normalize("NFC", text))


# --- detection --------------------------------------------------------------------------------

_CONVERTERS = {TCVN3: tcvn3_to_unicode, VNI: vni_to_unicode}
# Letters only Unicode Vietnamese text has: ă đ ĩ ũ ơ ư, the precomposed toned block, combining marks.
_UNICODE_VIETNAMESE_RE = re.compile("[\u0102\u0103\u0110\u0111\u0128\u0129\u0168\u0169\u01a0\u01a1\u01af\u01b0"
                                    "\u1ea0-\u1ef9\u0300-\u0323]")
_LATIN1_HIGH_RE = re.compile("[\u00a1-\u00ff]")
_EDGE_PUNCTUATION = string.punctuation + "“”‘’…–—«»"


def font_encoding(font_name: str | None) -> tuple[str | None, bool]:
    """(encoding a legacy font implies or None, whether it is an all-capitals font) from its name."""
    name = (font_name or "").strip().lower()
    if name.startswith(".vn"):
        return TCVN3, name.endswith("h")
    if name.startswith(("vni-", "vni ")):
        return VNI, False
    return None, False


def syllable_score(text: str) -> tuple[int, int]:
    """(well-formed syllables, words) among the words that carry a non-ASCII letter."""
    good = total = 0
    for raw in text.split():
        word = raw.strip(_EDGE_PUNCTUATION)
        # Only words with a letter beyond ASCII (or a Latin-1 character a legacy letter hides behind) count.
        if not any(("\u00a0" <= c <= "\u00ff") or (c.isalpha() and not c.isascii()) for c in word):
            continue
        total += 1
        good += is_syllable(word)
    return good, total


def detect_encoding(text: str) -> str:
    """UNICODE, TCVN3 or VNI: the reading under which the words look most like Vietnamese."""
    if _UNICODE_VIETNAMESE_RE.search(text) or not _LATIN1_HIGH_RE.search(text):
        return UNICODE
    good, total = syllable_score(text)
    best, best_ratio = UNICODE, (good / total if total else 0.0)
    for name, convert in _CONVERTERS.items():
        c_good, c_total = syllable_score(convert(text))
        if not c_total:
            continue
        ratio = c_good / c_total
        # A real legacy text reads as Vietnamese almost everywhere; French or German words do not.
        if ratio >= 0.6 and ratio > best_ratio + 0.2:
            best, best_ratio = name, ratio
    return best


def convert(text: str, encoding: str, *, capitals_font: bool = False) -> str:
    if encoding == TCVN3:
        return tcvn3_to_unicode(text, capitals_font=capitals_font)
    if encoding == VNI:
        return vni_to_unicode(text)
    return text


def looks_legacy(text: str) -> bool:
    """True when the text has Latin-1 letters and none of the letters only Unicode Vietnamese uses."""
    return bool(_LATIN1_HIGH_RE.search(text)) and not _UNICODE_VIETNAMESE_RE.search(text)
