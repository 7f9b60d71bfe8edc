"""One small async function per user action; each translates Telegram to domain calls and back.

The domain work (search, logging, formatting) lives in bot.answering and bot.replies; handlers
only decide who may do what, run slow calls in a thread, and send what they get back.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import date

from telegram import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ContextTypes

from bot import messages as msg
from bot import replies
from bot.access import AccessPolicy, Caller
from bot.answering import Answerer
from bot.database import Database, DatabaseUnavailable
from bot.flood import FloodGuard, Verdict
from retrieval.index import ReindexBusy

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_REFRESH_SECONDS = 4.5
INLINE_RESULTS = 5
SEND_RETRY_SECONDS = 1.0


@dataclass
class Services:
    """Everything the handlers need, built once in bot.app and kept in application.bot_data."""

    settings: object
    database: Database
    answerer: Answerer
    access: AccessPolicy
    flood: FloodGuard
    reindex_lock: threading.Lock = field(default_factory=threading.Lock)
    seen: set = field(default_factory=set)
    background: set = field(default_factory=set)


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


# ------------------------------------------------------------------ shared steps
def _caller(update: Update) -> Caller:
    user = update.effective_user
    chat = update.effective_chat
    return Caller(
        user_id=user.id if user else 0,
        chat_id=chat.id if chat else None,
        chat_type=chat.type if chat else "inline",
    )


def _remember(services: Services, update: Update) -> None:
    """Record the user and chat once per process (and when their names change)."""
    user, chat = update.effective_user, update.effective_chat
    if user:
        key = ("u", user.id, user.full_name, user.username)
        if key not in services.seen:
            services.database.upsert_user(user.id, user.full_name, user.username)
            services.seen.add(key)
    if chat and chat.type != ChatType.PRIVATE:
        key = ("c", chat.id, chat.type, chat.title)
        if key not in services.seen:
            services.database.upsert_chat(chat.id, chat.type, chat.title or "")
            services.seen.add(key)


def _admission(services: Services, update: Update, what: str) -> str:
    """'ok', or why not: 'flood-notice', 'flood-drop', 'denied' (runs in a worker thread)."""
    caller = _caller(update)
    verdict = services.flood.check(caller.user_id)
    if verdict is Verdict.NOTICE:
        return "flood-notice"
    if verdict is Verdict.DROP:
        return "flood-drop"
    try:
        _remember(services, update)
    except DatabaseUnavailable as exc:
        # Not knowing a user's name is no reason to leave them without an answer.
        log.error("could not record user/chat: %s", exc)
    if not services.access.may_use(caller):
        services.access.log_refusal(caller, what)
        return "denied"
    return "ok"


def _denied_text(update: Update) -> str:
    caller = _caller(update)
    if caller.chat_type in (ChatType.GROUP, ChatType.SUPERGROUP):
        return msg.ACCESS_DENIED_GROUP.format(chat_id=caller.chat_id, user_id=caller.user_id)
    return msg.ACCESS_DENIED.format(user_id=caller.user_id)


async def _admit(update: Update, context: ContextTypes.DEFAULT_TYPE, what: str) -> Services | None:
    """Flood and access gate for messages and commands; replies with the notice or refusal itself."""
    services = services_of(context)
    try:
        verdict = await asyncio.to_thread(_admission, services, update, what)
    except DatabaseUnavailable as exc:
        log.error("access check failed: %s", exc)
        await _send_text(update, msg.DATABASE_TROUBLE)
        return None
    if verdict == "ok":
        return services
    if verdict == "flood-notice":
        seconds = services.flood.retry_after(_caller(update).user_id)
        await _send_text(update, msg.FLOOD_NOTICE.format(seconds=seconds))
    elif verdict == "denied":
        await _send_text(update, _denied_text(update))
    return None


def _is_group(update: Update) -> bool:
    chat = update.effective_chat
    return bool(chat and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP))


async def send_reply(update: Update, reply: replies.Reply, keyboard: InlineKeyboardMarkup | None = None) -> list[Message]:
    """Send a Reply's chunks; threaded to the user's message in groups; keyboard on the last chunk."""
    message = update.effective_message
    chat_id = update.effective_chat.id
    bot = update.get_bot()
    reply_to = None
    if message is not None and _is_group(update) and update.callback_query is None:
        reply_to = ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)
    markup = keyboard if keyboard is not None else reply.keyboard
    sent = []
    for i, chunk in enumerate(reply.chunks):
        last = i == len(reply.chunks) - 1
        sent.append(
            await _send_message(
                bot,
                chat_id,
                chunk,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_parameters=reply_to if i == 0 else None,
                reply_markup=markup if last else None,
            )
        )
    return sent


async def _send_message(bot, *args, **kwargs) -> Message:
    """send_message, sent once more after a Telegram server error (5xx) or a refused connection.

    Those were not delivered, so a second try cannot duplicate the reply; a timeout may have been
    delivered, so it is never resent (RetryAfter is retried by the rate limiter).
    """
    try:
        return await bot.send_message(*args, **kwargs)
    except (TimedOut, BadRequest):
        raise
    except NetworkError as exc:
        log.warning("Telegram refused a reply (%s); sending it once more", type(exc).__name__)
    await asyncio.sleep(SEND_RETRY_SECONDS)
    return await bot.send_message(*args, **kwargs)


async def _send_text(update: Update, text: str) -> None:
    await send_reply(update, replies.Reply((replies.plain(text),)))


async def _keep_typing(bot, chat_id: int, done: asyncio.Event) -> None:
    """Telegram shows 'typing…' for about 5 seconds; repeat it until the answer is ready.

    Stopped by `done`, never cancelled: cancelling would cut a request off mid-flight.
    """
    while not done.is_set():
        with contextlib.suppress(TelegramError):  # the indicator is a nicety, never a reason to fail
            await bot.send_chat_action(chat_id, ChatAction.TYPING)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), TYPING_REFRESH_SECONDS)


async def _answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, services: Services, text: str) -> None:
    chat = update.effective_chat
    user = update.effective_user
    done = asyncio.Event()
    typing = asyncio.create_task(_keep_typing(context.bot, chat.id, done))
    services.background.add(typing)  # the loop keeps only weak references to tasks
    typing.add_done_callback(services.background.discard)
    try:
        answer = await asyncio.to_thread(
            services.answerer.answer, text, user_id=user.id if user else None, chat_id=chat.id, source="telegram"
        )
    finally:
        done.set()
    await send_reply(update, answer.reply)


# ------------------------------------------------------------------ conversations
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greets the user and explains what to ask; a deep link (start=dieu_7_5_3, faq, quytrinh) opens that page."""
    services = await _admit(update, context, "start")
    if services is None:
        return
    payload = context.args[0] if context.args else ""
    clause = re.fullmatch(r"dieu_(\d{1,2}(?:_\d{1,2})*)(?:_(2008))?", payload)
    if clause:
        number = clause.group(1).replace("_", ".")
        edition = 2008 if clause.group(2) else 2015
        await send_reply(update, await asyncio.to_thread(services.answerer.clause, number, edition))
        return
    if payload == "faq":
        await send_reply(update, await asyncio.to_thread(services.answerer.faq_page, 0))
        return
    if payload == "quytrinh":
        await send_reply(update, await asyncio.to_thread(services.answerer.procedures))
        return
    name = update.effective_user.first_name if update.effective_user else ""
    await _send_text(update, msg.WELCOME.format(name=name, bot_name=msg.BOT_NAME))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows how to ask, example questions and the command list."""
    if await _admit(update, context, "help") is None:
        return
    await _send_text(update, msg.HELP.format(bot_name=msg.BOT_NAME, username=context.bot.username))


async def private_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat every text is a question: 'typing…', then the best cited passages with buttons."""
    services = await _admit(update, context, "question")
    if services is None:
        return
    await _answer_question(update, context, services, update.effective_message.text or "")


def _addressed_text(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The question in a group message, or None when the message is not for the bot."""
    text = message.text or ""
    mentioned = False
    for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if entity.type == MessageEntity.MENTION and value.lstrip("@").lower() == (bot_username or "").lower():
            mentioned = True
            text = text.replace(value, " ")
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            mentioned = True
    replied = bool(message.reply_to_message and message.reply_to_message.from_user
                   and message.reply_to_message.from_user.id == bot_id)
    if not (mentioned or replied):
        return None
    return re.sub(r"\s+", " ", text).strip()


async def group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a group the bot answers only when mentioned or replied to, threaded to the question."""
    message = update.effective_message
    text = _addressed_text(message, context.bot.username, context.bot.id)
    if text is None:
        return
    services = await _admit(update, context, "group question")
    if services is None:
        return
    if not text:
        await _send_text(update, msg.GROUP_HINT.format(username=context.bot.username))
        return
    await _answer_question(update, context, services, text)


async def unsupported_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice, documents…: a polite note that only text questions are understood."""
    message = update.effective_message
    if _is_group(update) and _addressed_text(message, context.bot.username, context.bot.id) is None:
        return
    if await _admit(update, context, "unsupported") is None:
        return
    await _send_text(update, msg.UNSUPPORTED_MESSAGE)


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not know (in a private chat): the help text."""
    if _is_group(update):
        return
    if await _admit(update, context, "unknown command") is None:
        return
    await _send_text(update, msg.HELP.format(bot_name=msg.BOT_NAME, username=context.bot.username))


def _parse_clause_args(args: list[str]) -> tuple[str, int] | None:
    """'/dieu 7.5.3', '/dieu điều 4.2.3 2008', '/dieu 4.2.3 (2008)' -> (clause, edition)."""
    text = " ".join(args)
    number = re.search(r"\b(\d{1,2}(?:\.\d{1,2}){0,3})\b", text)
    if not number:
        return None
    edition = 2008 if re.search(r"\b2008\b", text.replace(number.group(1), " ", 1)) else 2015
    return number.group(1), edition


async def dieu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/dieu 7.5.3 shows that clause in full; /dieu 4.2.3 2008 shows which 2015 clauses it became."""
    services = await _admit(update, context, "dieu")
    if services is None:
        return
    parsed = _parse_clause_args(context.args or [])
    if parsed is None:
        await _send_text(update, msg.DIEU_USAGE)
        return
    number, edition = parsed
    await send_reply(update, await asyncio.to_thread(services.answerer.clause, number, edition))


async def faq(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/faq lists the transition questions, a page at a time, each one a button."""
    services = await _admit(update, context, "faq")
    if services is None:
        return
    await send_reply(update, await asyncio.to_thread(services.answerer.faq_page, 0))


async def quytrinh(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/quytrinh lists the agency's current procedures with code, title, version and date."""
    services = await _admit(update, context, "quytrinh")
    if services is None:
        return
    await send_reply(update, await asyncio.to_thread(services.answerer.procedures))


# ------------------------------------------------------------------ buttons
async def _admit_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Services | None:
    """Gate for button presses: refusals and floods get a toast, nothing else."""
    services = services_of(context)
    query = update.callback_query
    try:
        verdict = await asyncio.to_thread(_admission, services, update, "button")
    except DatabaseUnavailable:
        await query.answer(msg.DATABASE_TROUBLE, show_alert=True)
        return None
    if verdict == "ok":
        return services
    if verdict == "denied":
        await query.answer(msg.ACCESS_DENIED_SHORT.format(user_id=query.from_user.id), show_alert=True)
    elif verdict == "flood-notice":
        await query.answer(msg.FLOOD_TOAST)
    else:
        await query.answer()
    return None


async def _callback_parts(update: Update, n_parts: int, numeric: tuple[int, ...] = ()) -> list[str] | None:
    """The button's data, or None (after a toast) when it is malformed, e.g. from a forged client."""
    query = update.callback_query
    try:
        _, parts = replies.parse_callback(query.data or "", n_parts)
        for i in numeric:
            int(parts[i])
    except ValueError:
        await query.answer(msg.RESULTS_EXPIRED)
        return None
    return parts


async def _button(
    update: Update, context: ContextTypes.DEFAULT_TYPE, n_parts: int, numeric: tuple[int, ...] = ()
) -> tuple[Services, list[str]] | None:
    """Admission and the button's data parts, or None once the user has been told why not."""
    services = await _admit_callback(update, context)
    if services is None:
        return None
    parts = await _callback_parts(update, n_parts, numeric)
    if parts is None:
        return None
    return services, parts


async def more_results(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """'Xem thêm kết quả': the button leaves the old answer, the next results arrive as a new message."""
    admitted = await _button(update, context, 2, (1,))
    if admitted is None:
        return
    services, parts = admitted
    query = update.callback_query
    ref, offset = parts
    await query.answer()
    reply = await asyncio.to_thread(services.answerer.more, ref, int(offset))
    # Drop the spent "more" row so the old message does not offer the same page twice.
    old = query.message.reply_markup if query.message else None
    if old is not None:
        rows = [row for row in old.inline_keyboard if not any((b.callback_data or "").startswith("more|") for b in row)]
        if len(rows) != len(old.inline_keyboard):
            with contextlib.suppress(BadRequest):
                await query.edit_message_reply_markup(InlineKeyboardMarkup(rows))
    await send_reply(update, reply)


async def _reply_for_ref(update: Update, context: ContextTypes.DEFAULT_TYPE, render_name: str) -> None:
    """A button carrying one passage/document ref: acknowledge it, then send what the answerer renders."""
    admitted = await _button(update, context, 1)
    if admitted is None:
        return
    services, (ref,) = admitted
    await update.callback_query.answer()
    render = getattr(services.answerer, render_name)
    await send_reply(update, await asyncio.to_thread(render, ref))


async def full_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """'Xem toàn văn điều/mục': the whole clause or section, split over several messages if long."""
    await _reply_for_ref(update, context, "full_text")


async def whole_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A procedure button from /quytrinh: the whole procedure, section by section."""
    await _reply_for_ref(update, context, "document")


async def related(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """'Điều khoản liên quan': related clauses with their citations, each a button to open it."""
    await _reply_for_ref(update, context, "related")


async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍 / 👎 under an answer: stored for the reports; a short toast thanks the user."""
    admitted = await _button(update, context, 2, (1,))
    if admitted is None:
        return
    services, parts = admitted
    query = update.callback_query
    ref, value = parts
    stored = await asyncio.to_thread(services.answerer.feedback, ref, query.from_user.id, int(value))
    if not stored:
        await query.answer(msg.FEEDBACK_NOT_RECORDED)
    else:
        await query.answer(msg.FEEDBACK_THANKS_UP if int(value) > 0 else msg.FEEDBACK_THANKS_DOWN)


async def faq_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """◀ / ▶ under /faq: the same message turns to the requested page."""
    admitted = await _button(update, context, 1, (0,))
    if admitted is None:
        return
    services, parts = admitted
    query = update.callback_query
    (page,) = parts
    await query.answer()
    reply = await asyncio.to_thread(services.answerer.faq_page, int(page))
    with contextlib.suppress(BadRequest):  # "message is not modified" after a double tap
        await query.edit_message_text(
            reply.chunks[0], parse_mode=ParseMode.HTML, reply_markup=reply.keyboard, link_preview_options=NO_PREVIEW
        )


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button from an older version of the bot: a toast asking to ask again."""
    await update.callback_query.answer(msg.RESULTS_EXPIRED)


# ------------------------------------------------------------------ inline mode
def _inline_allowed(services: Services, update: Update, caller: Caller) -> bool:
    try:
        _remember(services, update)
    except DatabaseUnavailable as exc:
        log.error("could not record user: %s", exc)
    return services.access.may_use(caller)


def _inline_id(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:32]


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """'@bot câu hỏi' in any chat: cited passages to pick from and post."""
    services = services_of(context)
    query = update.inline_query
    caller = Caller(user_id=query.from_user.id, chat_id=None, chat_type="inline")
    try:
        allowed = await asyncio.to_thread(_inline_allowed, services, update, caller)
    except DatabaseUnavailable:
        allowed = False
    if not allowed:
        services.access.log_refusal(caller, "inline")
        text = msg.ACCESS_DENIED.format(user_id=caller.user_id)
        result = InlineQueryResultArticle(
            _inline_id("denied", caller.user_id), msg.INLINE_DENIED_TITLE,
            InputTextMessageContent(replies.plain(text), parse_mode=ParseMode.HTML),
            description=msg.ACCESS_DENIED_SHORT.format(user_id=caller.user_id),
        )
        await query.answer([result], cache_time=0, is_personal=True)
        return
    text = (query.query or "").strip()
    if not text:
        result = InlineQueryResultArticle(
            "help", msg.INLINE_EMPTY_TITLE,
            InputTextMessageContent(replies.plain(msg.HELP.format(bot_name=msg.BOT_NAME, username=context.bot.username)),
                                    parse_mode=ParseMode.HTML),
            description=msg.INLINE_EMPTY_TEXT.format(username=context.bot.username),
        )
        await query.answer([result], cache_time=0, is_personal=True)
        return
    answer = await asyncio.to_thread(services.answerer.answer, text, user_id=caller.user_id, chat_id=None, source="inline")
    articles = []
    if answer.result is not None and answer.result.answered:
        for hit in answer.result.hits[:INLINE_RESULTS]:
            articles.append(
                InlineQueryResultArticle(
                    _inline_id(hit.passage.id, text),
                    hit.passage.citation[:200],
                    InputTextMessageContent(replies.inline_message_html(hit), parse_mode=ParseMode.HTML,
                                            link_preview_options=NO_PREVIEW),
                    description=replies.inline_description(hit),
                )
            )
    if not articles:
        body = replies.to_plain_text(answer.reply.chunks[0]) if answer.reply.chunks else msg.NOT_ANSWERED
        articles.append(
            InlineQueryResultArticle(
                _inline_id("none", text), msg.INLINE_NO_RESULT_TITLE,
                InputTextMessageContent(replies.plain(body), parse_mode=ParseMode.HTML),
                description=msg.INLINE_NO_RESULT_TEXT,
            )
        )
    await query.answer(articles, cache_time=30, is_personal=True)


# ------------------------------------------------------------------ admin commands
async def _admit_admin(update: Update, context: ContextTypes.DEFAULT_TYPE, what: str) -> Services | None:
    services = await _admit(update, context, what)
    if services is None:
        return None
    caller = _caller(update)
    try:
        is_admin = await asyncio.to_thread(services.access.is_admin, caller.user_id)
    except DatabaseUnavailable:
        await _send_text(update, msg.DATABASE_TROUBLE)
        return None
    if not is_admin:
        services.access.log_refusal(caller, f"admin command /{what}")
        await _send_text(update, msg.ADMIN_ONLY)
        return None
    return services


def _run_reindex(services: Services):
    """The same reindex as `isobot reindex`, then the live Searcher swaps to the new bundle."""
    from retrieval.index import reindex

    summary = reindex(services.settings, progress=False)
    services.answerer.swap_to_current()
    return summary


def _summary_field(summary, name: str, default=0):
    if isinstance(summary, dict):
        return summary.get(name, default)
    return getattr(summary, name, default)


async def reindex_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex (admins): rebuilds the index in the background and reports what changed."""
    services = await _admit_admin(update, context, "reindex")
    if services is None:
        return
    if not services.reindex_lock.acquire(blocking=False):
        await _send_text(update, msg.REINDEX_BUSY)
        return
    try:
        await _send_text(update, msg.REINDEX_STARTED)
        try:
            summary = await asyncio.to_thread(_run_reindex, services)
        except ReindexBusy:
            await _send_text(update, msg.REINDEX_BUSY)
            return
        except Exception as exc:
            log.exception("reindex from Telegram failed")
            await _send_text(update, msg.REINDEX_FAILED.format(reason=str(exc)[:500]))
            return
    finally:
        services.reindex_lock.release()
    warnings = _summary_field(summary, "warnings", [])
    text = msg.REINDEX_DONE.format(
        build_id=_summary_field(summary, "build_id", "?"),
        seconds=float(_summary_field(summary, "seconds", 0.0)),
        documents=_summary_field(summary, "documents"),
        passages=_summary_field(summary, "passages"),
        added=_summary_field(summary, "added"),
        changed=_summary_field(summary, "changed"),
        removed=_summary_field(summary, "removed"),
        embedded=_summary_field(summary, "embedded"),
        warnings=len(warnings) if isinstance(warnings, (list, tuple)) else warnings,
    )
    await _send_text(update, text)


def _format_stats(stats) -> str:
    since = msg.STATS_SINCE.format(date=stats.since.strftime("%d/%m/%Y")) if stats.since else ""
    if not stats.questions:
        return f"{msg.STATS_TITLE.format(since=since)}\n{msg.STATS_EMPTY}"
    lines = [msg.STATS_TITLE.format(since=since)]
    for day in stats.per_day[-14:]:
        pct = 100.0 * day.answered / day.questions if day.questions else 0.0
        lines.append(msg.STATS_LINE.format(day=day.day.strftime("%d/%m"), questions=day.questions, answered_pct=pct))
    lines.append(
        msg.STATS_TOTALS.format(
            questions=stats.questions,
            answered_pct=100.0 * (stats.answered_rate or 0.0),
            likes=stats.thumbs_up,
            dislikes=stats.thumbs_down,
        )
    )
    if stats.top_questions:
        lines.append(msg.STATS_TOP)
        lines.extend(f"• {q.text} ({q.count})" for q in stats.top_questions[:10])
    return "\n".join(lines)


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats [YYYY-MM-DD] (admins): questions per day, answered rate, 👍/👎, top questions."""
    services = await _admit_admin(update, context, "stats")
    if services is None:
        return
    since = None
    if context.args:
        with contextlib.suppress(ValueError):
            since = date.fromisoformat(context.args[0])
    try:
        stats = await asyncio.to_thread(services.database.stats, since)
    except DatabaseUnavailable:
        await _send_text(update, msg.DATABASE_TROUBLE)
        return
    text = _format_stats(stats)
    await send_reply(update, replies.Reply(replies.split_messages(replies.escape(text).split("\n"), separator="\n")))


def _target_id(args: list[str] | None) -> int | None:
    if not args:
        return None
    try:
        return int(args[0])
    except ValueError:
        return None


async def _change_access(update: Update, context: ContextTypes.DEFAULT_TYPE, *, allow: bool) -> None:
    """Shared by /allow and /deny: parse the id, change the list, confirm."""
    action = "allow" if allow else "deny"
    services = await _admit_admin(update, context, action)
    if services is None:
        return
    target = _target_id(context.args)
    if target is None:
        await _send_text(update, msg.ALLOW_USAGE if allow else msg.DENY_USAGE)
        return
    admin_id = update.effective_user.id
    if allow:
        await asyncio.to_thread(services.database.allow, target, " ".join(context.args[1:]), admin_id)
    else:
        await asyncio.to_thread(services.database.deny, target, admin_id)
    log.info("admin %s: %s %s", admin_id, action, target)
    await _send_text(update, (msg.ALLOWED if allow else msg.DENIED).format(target_id=target))


async def allow_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/allow ID [name] (admins): puts a user or a group chat (negative id) on the allowlist."""
    await _change_access(update, context, allow=True)


async def deny_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/deny ID (admins): blocks a user or takes a group chat off the allowlist."""
    await _change_access(update, context, allow=False)


# ------------------------------------------------------------------ errors
async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Never crash: Telegram hiccups are logged; anything else gets an apology to the user."""
    error = context.error
    if isinstance(error, RetryAfter):
        log.warning("Telegram asked to slow down; the rate limiter gave up retrying")
        return
    if isinstance(error, (TimedOut, NetworkError)) and not isinstance(error, BadRequest):
        log.warning("Telegram network problem: %s", type(error).__name__)
        return
    if isinstance(error, Forbidden):
        log.info("a user blocked the bot or removed it from a chat")
        return
    if isinstance(error, DatabaseUnavailable):
        log.error("database unavailable while handling an update: %s", error)
        text = msg.DATABASE_TROUBLE
    else:
        log.error("error while handling an update", exc_info=error)
        text = msg.INTERNAL_ERROR
    if isinstance(update, Update):
        with contextlib.suppress(Exception):
            if update.callback_query is not None:
                await update.callback_query.answer(text)
            elif update.effective_chat is not None:
                await _send_text(update, text)
