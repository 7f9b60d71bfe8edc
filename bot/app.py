"""Builds the Telegram Application: all wiring (services, handlers, commands, transport) in one place."""
from __future__ import annotations

import logging
import secrets
from urllib.parse import urlparse

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import handlers
from bot import messages as msg
from bot.access import AccessPolicy
from bot.answering import Answerer
from bot.database import Database
from bot.flood import FloodGuard

log = logging.getLogger(__name__)

# Outgoing requests that hit 429 are retried after Telegram's retry_after this many times.
OUTGOING_MAX_RETRIES = 3
CONCURRENT_UPDATES = 64


def install_token_redaction(token: str | None) -> None:
    """Make every log record (message and traceback) show '<token>' instead of the bot token."""
    if not token:
        return
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_redacts", None) == token:
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the logging module's problem, not ours
            return record
        if token in message:
            record.msg, record.args = message.replace(token, "<token>"), None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            if token in text:
                record.exc_text = text.replace(token, "<token>")
        return record

    factory._redacts = token
    logging.setLogRecordFactory(factory)


def api_base_url(configured: str) -> str:
    """Accept 'http://host:8081', 'http://host:8081/' or 'http://host:8081/bot': the token goes after '/bot'."""
    if "{token}" in configured:
        return configured
    url = configured.rstrip("/")
    return url if url.endswith("/bot") else url + "/bot"


def file_base_url(base_url: str) -> str:
    """'https://api.telegram.org/bot' -> 'https://api.telegram.org/file/bot' (same for any server)."""
    if "{token}" in base_url:
        return base_url.replace("/bot{token}", "/file/bot{token}")
    return base_url[: -len("/bot")] + "/file/bot"


async def _register_commands(application: Application) -> None:
    """The command menu users see, with Vietnamese descriptions; admins also see their own commands."""
    commands = [BotCommand(name, text) for name, text in msg.COMMAND_DESCRIPTIONS.items()]
    await application.bot.set_my_commands(commands, scope=BotCommandScopeDefault())
    admin_commands = commands + [BotCommand(name, text) for name, text in msg.ADMIN_COMMAND_DESCRIPTIONS.items()]
    for admin_id in application.bot_data["services"].access.admin_ids:
        try:
            await application.bot.set_my_commands(admin_commands, scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:
            # Telegram knows a chat only once the admin has written to the bot; the commands work anyway.
            log.info("no admin command menu for %s yet: %s", admin_id, exc.message)


def build_application(settings, *, database: Database | None = None, searcher=None, flood: FloodGuard | None = None) -> Application:
    """The bot `isobot run` starts; tests build the same thing pointed at the emulator."""
    install_token_redaction(settings.token)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if database is None:
        database = Database.from_settings(settings)
        database.upgrade()
    services = handlers.Services(
        settings=settings,
        database=database,
        answerer=Answerer(settings, database, searcher=searcher),
        access=AccessPolicy.from_settings(settings, database),
        flood=flood or FloodGuard(),
    )
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(api_base_url(settings.telegram_api_base_url))
        .base_file_url(file_base_url(api_base_url(settings.telegram_api_base_url)))
        .rate_limiter(AIORateLimiter(max_retries=OUTGOING_MAX_RETRIES))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(_register_commands)
        .build()
    )
    application.bot_data["services"] = services

    add = application.add_handler
    add(CommandHandler("start", handlers.start))
    add(CommandHandler("help", handlers.help_command))
    add(CommandHandler("dieu", handlers.dieu))
    add(CommandHandler("faq", handlers.faq))
    add(CommandHandler("quytrinh", handlers.quytrinh))
    add(CommandHandler("reindex", handlers.reindex_command))
    add(CommandHandler("stats", handlers.stats_command))
    add(CommandHandler("allow", handlers.allow_command))
    add(CommandHandler("deny", handlers.deny_command))

    add(CallbackQueryHandler(handlers.more_results, pattern=r"^more\|"))
    add(CallbackQueryHandler(handlers.full_text, pattern=r"^full\|"))
    add(CallbackQueryHandler(handlers.whole_document, pattern=r"^doc\|"))
    add(CallbackQueryHandler(handlers.related, pattern=r"^rel\|"))
    add(CallbackQueryHandler(handlers.feedback, pattern=r"^fb\|"))
    add(CallbackQueryHandler(handlers.faq_page, pattern=r"^faq\|"))
    add(CallbackQueryHandler(handlers.stale_button))

    add(InlineQueryHandler(handlers.inline_query))

    text = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
    add(MessageHandler(filters.ChatType.PRIVATE & text, handlers.private_question))
    add(MessageHandler(filters.ChatType.GROUPS & text, handlers.group_message))
    # Anything else a person can send (stickers, photos, voice, documents, unknown commands…).
    add(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, handlers.unknown_command))
    add(MessageHandler(filters.UpdateType.MESSAGE & ~filters.StatusUpdate.ALL & ~text, handlers.unsupported_message))

    application.add_error_handler(handlers.on_error)
    return application


def webhook_path(settings) -> str:
    """The path part of WEBHOOK_URL is where the local web server listens for updates."""
    return urlparse(settings.webhook_url).path.lstrip("/") or "telegram"


def run_application(application: Application, settings, *, in_thread: bool = False) -> None:
    """Serve until stopped: webhook when WEBHOOK_URL is set (secret checked), long polling otherwise.

    in_thread: serving from a non-main thread (tests) cannot install signal handlers.
    """
    kwargs = {"allowed_updates": Update.ALL_TYPES, "drop_pending_updates": False}
    if in_thread:
        kwargs["stop_signals"] = None
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        if not secret:
            # Without a secret anyone who finds the port could post forged updates (e.g. as an admin);
            # Telegram sends back whatever setWebhook registered, so a random one per start works.
            secret = secrets.token_urlsafe(32)
            log.warning("WEBHOOK_SECRET is not set; using a random secret for this run")
        log.info("serving webhook on %s:%s", settings.webhook_listen, settings.webhook_port)
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=webhook_path(settings),
            webhook_url=settings.webhook_url,
            secret_token=secret,
            close_loop=False,
            **kwargs,
        )
    else:
        log.info("polling for updates")
        application.run_polling(close_loop=False, **kwargs)
