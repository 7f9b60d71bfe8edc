"""`isobot run` and `isobot chat`."""
from __future__ import annotations

import logging
import sys

from bot.database import Database, DatabaseUnavailable

log = logging.getLogger(__name__)


def _open_database(settings) -> Database:
    database = Database.from_settings(settings)
    database.upgrade()
    return database


def cmd_run(args, settings) -> int:
    """The Telegram bot when TELEGRAM_BOT_TOKEN is set; otherwise the terminal chat."""
    if not settings.token:
        from bot import messages

        print(messages.TERMINAL_NO_TOKEN, file=sys.stderr)
        return cmd_chat(args, settings)
    from bot.app import build_application, run_application

    try:
        database = _open_database(settings)
    except DatabaseUnavailable as exc:
        print(f"isobot: {exc}", file=sys.stderr)
        return 1
    application = build_application(settings, database=database)
    run_application(application, settings)
    return 0


def cmd_chat(args, settings) -> int:
    """Terminal chat through the same answering code as Telegram."""
    from bot.answering import Answerer
    from bot.terminal import chat

    try:
        database = _open_database(settings)
    except DatabaseUnavailable as exc:
        print(f"isobot: {exc}", file=sys.stderr)
        return 1
    # Progress and load messages go to stderr; keep the answer stream on stdout clean.
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
    return chat(Answerer(settings, database))
