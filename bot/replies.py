"""Turn search results and passages into Telegram HTML messages with inline keyboards.

Every piece of text that comes from the corpus or from the user is escaped here; the only markup
in a reply is the markup this module adds. Long replies are split under Telegram's limit on
passage boundaries.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import messages as msg
from retrieval.citations import format_date_vn
from retrieval.types import Hit, Passage, SearchResult

TELEGRAM_TEXT_LIMIT = 4096
# Headroom for the separators and the numbering added around blocks.
SAFE_LIMIT = 4000
ANSWER_SNIPPET_CHARS = 700
INLINE_DESCRIPTION_CHARS = 180
CALLBACK_DATA_LIMIT = 64
FAQ_PAGE_SIZE = 6


@dataclass(frozen=True)
class Reply:
    """One logical answer: one or more HTML messages; the keyboard goes on the last one."""

    chunks: tuple[str, ...]
    keyboard: InlineKeyboardMarkup | None = None


def escape(text: str) -> str:
    """Escape text for Telegram HTML (only <, > and & matter outside attributes)."""
    return html.escape(text, quote=False)


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


_TAG = re.compile(r"<[^>]+>")


def to_plain_text(html_text: str) -> str:
    """Telegram HTML -> plain text for the terminal chat."""
    return html.unescape(_TAG.sub("", html_text))


# ---------------------------------------------------------------- callback data
# Telegram limits callback_data to 64 bytes; passage ids go last so they may contain the separator.
SEP = "|"


def callback(kind: str, *parts: object) -> str:
    data = SEP.join([kind, *(str(p) for p in parts)])
    if len(data.encode("utf-8")) > CALLBACK_DATA_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_DATA_LIMIT} bytes: {data!r}")
    return data


def parse_callback(data: str, n_parts: int) -> tuple[str, list[str]]:
    """Split 'kind|a|b…' into kind and exactly n_parts parts (the last one keeps any separators)."""
    kind, _, rest = (data or "").partition(SEP)
    parts = rest.split(SEP, n_parts - 1) if n_parts else []
    if len(parts) != n_parts:
        raise ValueError(f"malformed callback data: {data!r}")
    return kind, parts


# Maps a passage id to something that fits in callback data (ids are usually short enough as is).
PassageRef = Callable[[str], str]


def _identity_ref(passage_id: str) -> str:
    return passage_id


# ---------------------------------------------------------------- text shaping
def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


_LIST_ITEM = re.compile(r"^\s*(?:[-•*+–]|\d+[.)]|[a-zđ][.)])\s")


def reflow(text: str) -> str:
    """Join lines wrapped inside a paragraph (YAML and Word texts often are); keep lists and blank lines."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", unicodedata.normalize("NFC", text).strip()):
        lines: list[str] = []
        for line in block.split("\n"):
            line = line.rstrip()
            joinable = not _LIST_ITEM.match(line) and not lines[-1].endswith(":") if lines else False
            # Table rows ('cell | cell') keep their own lines.
            joinable = joinable and " | " not in line and " | " not in lines[-1]
            if joinable and line.strip():
                lines[-1] = f"{lines[-1]} {line.strip()}"
            elif line.strip():
                lines.append(line.strip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(p for p in paragraphs if p)


def _find_sentence(text: str, sentence: str) -> tuple[int, int] | None:
    """Locate the best sentence in the passage text, tolerant of whitespace differences."""
    sentence = _norm(sentence)
    if not sentence:
        return None
    start = text.find(sentence)
    if start >= 0:
        return start, start + len(sentence)
    # Whitespace may differ (line breaks in the corpus): match word by word.
    words = [re.escape(w) for w in sentence.split(" ")]
    m = re.search(r"\s+".join(words), text)
    return (m.start(), m.end()) if m else None


def _cut_left(text: str, pos: int) -> int:
    """Move a cut point right to the next word start, so no word is broken."""
    if pos <= 0:
        return 0
    m = re.compile(r"\s").search(text, pos)
    return m.end() if m else pos


def _cut_right(text: str, pos: int) -> int:
    """Move a cut point left to the previous whitespace."""
    if pos >= len(text):
        return len(text)
    space = text.rfind(" ", 0, pos)
    newline = text.rfind("\n", 0, pos)
    cut = max(space, newline)
    return cut if cut > 0 else pos


def snippet_html(text: str, best_sentence: str = "", limit: int = ANSWER_SNIPPET_CHARS) -> str:
    """Escaped passage text trimmed around the best sentence, which is underlined."""
    text = reflow(text)
    span = _find_sentence(text, best_sentence) if best_sentence else None
    if span is None:
        start, end = 0, min(len(text), limit)
    else:
        s0, s1 = span
        if s1 - s0 >= limit:
            start, end = s0, s0 + limit
        else:
            # Keep a little context before the sentence, the rest after it.
            before = min(s0, (limit - (s1 - s0)) // 4)
            start = s0 - before
            end = min(len(text), start + limit)
            start = max(0, min(start, end - limit))
    if start > 0:
        start = min(_cut_left(text, start), span[0] if span else start)
    if end < len(text):
        end = max(_cut_right(text, end), span[1] if span and span[1] <= end else 0)
    piece = text[start:end]
    out = escape(piece)
    if span is not None:
        s0, s1 = max(span[0], start) - start, min(span[1], end) - start
        if s1 > s0:
            out = escape(piece[:s0]) + "<u>" + escape(piece[s0:s1]) + "</u>" + escape(piece[s1:])
    if start > 0:
        out = "…" + out
    if end < len(text):
        out = out.rstrip() + "…"
    return out


def _split_escaped(text: str, limit: int) -> list[str]:
    """Split escaped text (no tags) under limit at paragraph, line or word boundaries."""
    pieces: list[str] = []
    rest = text
    while telegram_length(rest) > limit:
        window = rest[:limit]
        cut = window.rfind("\n\n")
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            # One enormous word: cut anyway, but never inside an entity such as &amp;.
            cut = limit
            amp = window.rfind("&", max(0, limit - 8))
            if amp > 0 and ";" not in window[amp:]:
                cut = amp
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
        # Emoji count twice in UTF-16; shrink until the piece fits.
        while telegram_length(pieces[-1]) > limit:
            rest = pieces[-1][-50:] + rest
            pieces[-1] = pieces[-1][:-50]
    if rest:
        pieces.append(rest)
    return pieces


def split_messages(blocks: Sequence[str], limit: int = SAFE_LIMIT, separator: str = "\n\n") -> tuple[str, ...]:
    """Pack HTML blocks into messages under the limit, breaking only between blocks."""
    chunks: list[str] = []
    current = ""
    for block in blocks:
        if telegram_length(block) > limit:
            raise ValueError("a block is longer than one message; split it with passage_full_blocks")
        candidate = f"{current}{separator}{block}" if current else block
        if telegram_length(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = block
    if current:
        chunks.append(current)
    return tuple(chunks)


_MAPPING = re.compile(r"^2008:(?P<old>[\d.]+)\s*->\s*(?P<new>[\d., ]+)$")


def note_html(note: str) -> str | None:
    """Retrieval's interpretation notes in words; notes we cannot phrase are diagnostics, not shown."""
    m = _MAPPING.match(note.strip())
    if not m:
        return None
    text = msg.MAPPING_NOTE.format(clause_2008=m["old"], clauses_2015=m["new"].strip().rstrip(","))
    return f"<i>{escape(text)}</i>"


# ---------------------------------------------------------------- passages
def citation_html(passage: Passage) -> str:
    return f"<b>{escape(passage.citation)}</b>"


def hit_block(hit: Hit, number: int) -> str:
    """One ranked passage: number, bold citation, trimmed text with the best sentence underlined."""
    text = snippet_html(hit.passage.text, hit.best_sentence)
    return f"{number}. {citation_html(hit.passage)}\n{text}"


def passage_full_blocks(passage: Passage, limit: int = SAFE_LIMIT) -> list[str]:
    """The whole passage: citation, then its text split into pieces that each fit a message."""
    head = citation_html(passage)
    body = escape(reflow(passage.text))
    pieces = _split_escaped(body, limit - telegram_length(head) - 2)
    if not pieces:
        return [head]
    return [f"{head}\n{pieces[0]}", *pieces[1:]]


# ---------------------------------------------------------------- keyboards
def answer_keyboard(
    ref: str | int,
    hits: Sequence[Hit],
    next_offset: int | None,
    passage_ref: PassageRef = _identity_ref,
) -> InlineKeyboardMarkup:
    """Buttons under an answer: more results, full text and related for the top hit, 👍 / 👎."""
    rows: list[list[InlineKeyboardButton]] = []
    if next_offset is not None:
        rows.append([InlineKeyboardButton(msg.BUTTON_MORE, callback_data=callback("more", ref, next_offset))])
    if hits:
        top = hits[0].passage
        label = msg.BUTTON_FULL_CLAUSE.format(clause=top.clause) if top.clause else msg.BUTTON_FULL_SECTION
        pref = passage_ref(top.id)
        rows.append(
            [
                InlineKeyboardButton(label, callback_data=callback("full", pref)),
                InlineKeyboardButton(msg.BUTTON_RELATED, callback_data=callback("rel", pref)),
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(msg.BUTTON_LIKE, callback_data=callback("fb", ref, 1)),
            InlineKeyboardButton(msg.BUTTON_DISLIKE, callback_data=callback("fb", ref, -1)),
        ]
    )
    return InlineKeyboardMarkup(rows)


def passages_keyboard(passages: Iterable[Passage], passage_ref: PassageRef = _identity_ref) -> InlineKeyboardMarkup | None:
    """One 'open' button per passage (related clauses, FAQ entries, procedures)."""
    rows = [
        [InlineKeyboardButton(_button_label(p), callback_data=callback("full", passage_ref(p.id)))]
        for p in passages
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def _button_label(p: Passage, limit: int = 60) -> str:
    if p.kind == "standard" and p.clause:
        label = f"Điều {p.clause} {p.title}"
    elif p.kind == "procedure" and p.code:
        label = f"{p.code} – {p.section} {p.title}".strip() if p.section else f"{p.code} {p.doc_title}"
    else:
        label = p.title
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- whole replies
def render_answer(
    result: SearchResult,
    ref: str | int,
    offset: int = 0,
    page_size: int = 3,
    passage_ref: PassageRef = _identity_ref,
) -> Reply:
    """A question's reply: the page of hits from offset, or an honest 'not found' with tips."""
    if not result.answered or not result.hits:
        return render_not_answered(result)
    page = result.hits[offset : offset + page_size]
    if not page:
        return Reply((escape(msg.NO_MORE_RESULTS),))
    blocks: list[str] = []
    if not offset:
        blocks.extend(filter(None, map(note_html, result.notes)))
    if offset:
        blocks.append(escape(msg.MORE_INTRO.format(start=offset + 1, end=offset + len(page))))
    blocks.extend(hit_block(hit, offset + i + 1) for i, hit in enumerate(page))
    next_offset = offset + page_size if len(result.hits) > offset + page_size else None
    keyboard = answer_keyboard(ref, page, next_offset, passage_ref)
    return Reply(split_messages(blocks), keyboard)


def render_not_answered(result: SearchResult) -> Reply:
    """Say honestly that nothing fits; suggest how to rephrase and the closest topics (no citations)."""
    blocks = [escape(msg.NOT_ANSWERED), escape(msg.NOT_ANSWERED_TIPS)]
    if result.suggestions:
        topics = "\n".join(f"• {escape(s)}" for s in result.suggestions[:5])
        blocks.append(f"{escape(msg.CLOSEST_TOPICS)}\n{topics}")
    return Reply(split_messages(blocks))


def render_passages_full(passages: Sequence[Passage], title: str = "") -> Reply:
    """Full text of one or more passages (a clause with its sub-clauses, a whole procedure)."""
    blocks: list[str] = [f"<b>{escape(title)}</b>"] if title else []
    for p in passages:
        blocks.extend(passage_full_blocks(p))
    return Reply(split_messages(blocks))


def render_related(origin: Passage, related: Sequence[Passage], passage_ref: PassageRef = _identity_ref) -> Reply:
    if not related:
        return Reply((escape(msg.NO_RELATED),))
    lines = [escape(msg.RELATED_TITLE.format(title=origin.citation))]
    lines.extend(f"• {citation_html(p)}" for p in related)
    return Reply(split_messages(lines, separator="\n"), passages_keyboard(related, passage_ref))


def render_correspondence(clause_2008: str, result: SearchResult) -> Reply:
    """/dieu X 2008: the mapping note and the 2015 clauses it became."""
    blocks = [f"<b>{escape(msg.DIEU_2008_TITLE.format(clause=clause_2008))}</b>"]
    blocks.extend(filter(None, map(note_html, result.notes)))
    blocks.extend(hit_block(hit, i + 1) for i, hit in enumerate(result.hits))
    return Reply(split_messages(blocks))


def render_faq_page(entries: Sequence[Passage], page: int, passage_ref: PassageRef = _identity_ref) -> Reply:
    """A page of transition FAQ questions, each a button; ◀ ▶ to move between pages."""
    if not entries:
        return Reply((escape(msg.FAQ_EMPTY),))
    pages = max(1, -(-len(entries) // FAQ_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = entries[page * FAQ_PAGE_SIZE : (page + 1) * FAQ_PAGE_SIZE]
    lines = [escape(msg.FAQ_TITLE.format(page=page + 1, pages=pages))]
    lines.extend(f"{page * FAQ_PAGE_SIZE + i + 1}. {escape(p.title)}" for i, p in enumerate(shown))
    rows = [
        [InlineKeyboardButton(f"{page * FAQ_PAGE_SIZE + i + 1}. {_button_label(p, 50)}", callback_data=callback("full", passage_ref(p.id)))]
        for i, p in enumerate(shown)
    ]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(msg.BUTTON_PREV_PAGE, callback_data=callback("faq", page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(msg.BUTTON_NEXT_PAGE, callback_data=callback("faq", page + 1)))
    if nav:
        rows.append(nav)
    return Reply(split_messages(lines, separator="\n"), InlineKeyboardMarkup(rows))


def render_procedures(procedures: Sequence[Passage], passage_ref: PassageRef = _identity_ref) -> Reply:
    """Current procedures: code, title, version, effective date; a button opens each one."""
    current = [p for p in procedures if p.status != "superseded"]
    if not current:
        return Reply((escape(msg.PROCEDURES_EMPTY),))
    lines = [f"<b>{escape(msg.PROCEDURES_TITLE)}</b>"]
    for p in sorted(current, key=lambda p: p.code or p.doc_id):
        line = msg.PROCEDURE_LINE.format(
            code=p.code or p.doc_id,
            title=p.doc_title.removeprefix(p.code).strip(" –-:") if p.code else p.doc_title,
            version=p.version or "?",
            date=format_date_vn(p.effective_date) if p.effective_date else "?",
        )
        lines.append(f"• {escape(line)}")
    rows = [
        [InlineKeyboardButton(msg.BUTTON_OPEN_DOCUMENT.format(code=p.code or p.doc_id)[:60], callback_data=callback("doc", passage_ref(p.id)))]
        for p in sorted(current, key=lambda p: p.code or p.doc_id)
    ]
    return Reply(split_messages(lines, separator="\n"), InlineKeyboardMarkup(rows))


def inline_description(hit: Hit) -> str:
    """Plain-text preview under an inline result's title."""
    text = _norm(hit.best_sentence or hit.passage.text)
    if len(text) > INLINE_DESCRIPTION_CHARS:
        text = text[: _cut_right(text, INLINE_DESCRIPTION_CHARS)].rstrip() + "…"
    return text


def inline_message_html(hit: Hit) -> str:
    """What gets posted when a user picks an inline result: the cited passage."""
    return hit_block(hit, 1).split(" ", 1)[1]


def plain(text: str) -> str:
    """A fixed user-facing string as a ready-to-send HTML message."""
    return escape(text)
