"""Repair text extracted from office files: Unicode form, split syllables, hyphenation, page furniture."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter

from retrieval.ingest.syllables import has_tone, is_syllable

# Soft hyphens, zero-width spaces and joiners, BOMs: invisible in Word, noise for search.
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")
_CONTROL_RE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]")


def clean_text(text: str) -> str:
    """NFC, no invisible or control characters, one space between words on each line."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE_RE.sub("", _CONTROL_RE.sub(" ", text))
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n")]
    return "\n".join(lines)


_WORD_RE = re.compile(r"\S+")
_LETTERS_RE = re.compile(r"^[^\W\d_]+$")


def rejoin_split_syllables(line: str) -> str:
    """'ĐIỀ U KHO ẢN' -> 'ĐIỀU KHOẢN': PDF extraction sometimes cuts a syllable around a diacritic."""
    words = line.split(" ")
    out: list[str] = []
    for word in words:
        if out and _should_join(out[-1], word):
            out[-1] = out[-1] + word
        else:
            out.append(word)
    return " ".join(out)


def _should_join(left: str, right: str) -> bool:
    if not (_LETTERS_RE.match(left) and _LETTERS_RE.match(right)) or left.isascii() and right.isascii():
        return False
    if not is_syllable(left + right):
        return False
    if not is_syllable(left) or not is_syllable(right):
        return True
    # Both halves are words on their own ('kho', 'ản'); a cut lands before a toned vowel, so join only
    # a toneless left half ending in a vowel with a right half that starts with a toned vowel.
    starts_with_toned_vowel = right[0].lower() not in "bcdđghklmnpqrstvx" and has_tone(right[0])
    return starts_with_toned_vowel and not has_tone(left) and left[-1].lower() in "aăâeêioôơuưy"


_HYPHEN_END_RE = re.compile(r"(\w)-$")


def join_hyphenated(lines: list[str]) -> list[str]:
    """Join a word a PDF broke across lines with a hyphen ('docu-' / 'ment'); keep real hyphens ('QT-' / '05').

    Vietnamese breaks lines between syllables, so a hyphen between two whole syllables
    ('kinh tế-' / 'xã hội') is the writer's own and stays.
    """
    out: list[str] = []
    for line in lines:
        if out and _HYPHEN_END_RE.search(out[-1]) and line[:1].isalnum():
            left = out[-1][:-1].rsplit(" ", 1)[-1]
            right = line.split(" ", 1)[0].rstrip(".,;:")
            glued = is_syllable(left + right) or not (is_syllable(left) and is_syllable(right))
            if line[:1].islower() and glued:
                out[-1] = out[-1][:-1] + line
            else:
                out[-1] = out[-1] + line
            continue
        out.append(line)
    return out


_SENTENCE_END = (".", ":", ";", "!", "?", "…")
_LIST_ITEM_RE = re.compile(r"^(?:[-–•+*]\s|\d{1,2}[.)]\s|[a-zđ][.)]\s|bước\s+\d)", re.IGNORECASE)


def merge_wrapped_lines(lines: list[str]) -> list[str]:
    """Join printed lines back into paragraphs: a line continues the previous one unless that one
    ended a sentence, or either is a table row, or the line opens a list item."""
    out: list[str] = []
    for line in lines:
        previous = out[-1] if out else ""
        continues = (
            previous and line
            and not previous.endswith(_SENTENCE_END)
            and " | " not in previous and " | " not in line
            and not _LIST_ITEM_RE.match(line)
        )
        if continues:
            out[-1] = f"{previous} {line}"
        else:
            out.append(line)
    return out


_DIGITS_RE = re.compile(r"\d+")


def _furniture_key(line: str) -> str:
    # Page numbers differ from page to page ('Trang 2/5'); compare lines with digits blanked.
    return _DIGITS_RE.sub("#", line.strip().lower())


def remove_page_furniture(pages: list[list[str]], edge: int = 3) -> tuple[list[list[str]], list[str]]:
    """Drop header/footer lines repeated on most pages; returns (pages, the distinct lines removed)."""
    if len(pages) < 2:
        return pages, []
    counts: Counter[str] = Counter()
    for lines in pages:
        nonblank = [l for l in lines if l.strip()]
        counts.update({_furniture_key(l) for l in nonblank[:edge] + nonblank[-edge:]})
    needed = max(2, (len(pages) + 1) // 2)
    repeated = {key for key, n in counts.items() if n >= needed and key.strip("# ")}
    removed: list[str] = []
    out = []
    for lines in pages:
        nonblank_idx = [i for i, l in enumerate(lines) if l.strip()]
        edges = set(nonblank_idx[:edge] + nonblank_idx[-edge:])
        kept = []
        for i, line in enumerate(lines):
            if i in edges and _furniture_key(line) in repeated:
                if _furniture_key(line) not in {_furniture_key(r) for r in removed}:
                    removed.append(line.strip())
                continue
            kept.append(line)
        out.append(kept)
    return out, removed


_PAGE_NUMBER_RE = re.compile(r"^(?:trang\s*)?\d{1,3}(?:\s*/\s*\d{1,3})?$|^-\s*\d{1,3}\s*-$", re.IGNORECASE)


def is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER_RE.match(line.strip()))
