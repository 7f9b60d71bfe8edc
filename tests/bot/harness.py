"""Run the real bot Application (as `isobot run` does) in a thread against a Bot API emulator."""
from __future__ import annotations

import asyncio
import threading

from bot.app import run_application
from bot.database import Database
from tests.bot.emulator import BotAPIEmulator


class BotHarness:
    """One emulated Telegram + one running bot; helpers to talk to it like a user would."""

    def __init__(self, emulator: BotAPIEmulator, settings, database: Database, application):
        self.emulator = emulator
        self.settings = settings
        self.database = database
        self.application = application
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.crashed: BaseException | None = None

    def start(self) -> "BotHarness":
        def serve():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                run_application(self.application, self.settings, in_thread=True)
            except BaseException as exc:  # surfaced by the tests through `crashed`
                self.crashed = exc
                raise

        mark = self.emulator.mark()
        self._thread = threading.Thread(target=serve, name="isobot", daemon=True)
        self._thread.start()
        # post_init registers the command menu: the bot is up once that call arrives.
        # The default menu, then one per admin chat (refused while Telegram does not know the chat).
        self.emulator.wait_for(lambda c: c.method == "setMyCommands", since=mark, timeout=60,
                               count=1 + len(self.settings.admin_ids))
        if self.settings.webhook_url:
            self.emulator.wait_for(lambda c: c.method == "setWebhook", since=mark, timeout=60)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.application.stop_running)
            self._thread.join(30)

    # --------------------------------------------------------------- talking to the bot
    def ask(self, user: dict, chat: dict, text: str, count: int = 1, timeout: float = 60, **kw):
        """Send a message; return (the user's message, the bot's first `count` replies in that chat)."""
        mark = self.emulator.mark()
        message = self.emulator.send_text(user, chat, text, **kw)
        calls = self.emulator.wait_reply(chat["id"], mark, timeout=timeout, count=count)
        return message, calls

    def press(self, user: dict, message_result: dict, data: str):
        mark = self.emulator.mark()
        qid = self.emulator.press(user, message_result, data)
        answer = self.emulator.wait_for(
            lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == qid, mark)[0]
        return mark, answer
