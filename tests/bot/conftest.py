"""Fixtures for the bot's end-to-end tests: a real index, a real SQLite file, the real Application
(the one `isobot run` builds) serving in a thread against the Bot API emulator over real HTTP."""
from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulator import BotAPIEmulator  # noqa: E402

from bot.app import build_application, run_application  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.flood import FloodGuard  # noqa: E402
from retrieval.settings import load_settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_CACHE_DIR = REPO_ROOT / "var" / "test-cache"
ADMIN_ID = 900001


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shared_models(data_dir: Path) -> None:
    """Point <data_dir>/models at the test cache's offline model so it is built only once."""
    from retrieval.embedding import DEFAULT_MODEL
    from retrieval.offline_model import ensure_offline_model

    models = TEST_CACHE_DIR / "models"
    ensure_offline_model(models, DEFAULT_MODEL)
    data_dir.mkdir(parents=True, exist_ok=True)
    link = data_dir / "models"
    if not link.exists():
        link.symlink_to(models, target_is_directory=True)


def _searcher_for(data_dir: Path, corpus_dir: Path):
    """Reindex (incremental: the embedding cache lives in data_dir) and load the live Searcher."""
    from retrieval.index import reindex
    from retrieval.search import Searcher

    _shared_models(data_dir)
    settings = load_settings(ISOBOT_DATA_DIR=str(data_dir), ISOBOT_CORPUS_DIR=str(corpus_dir),
                             DATABASE_URL=f"sqlite:///{data_dir / 'index.db'}")
    reindex(settings, progress=False)
    return Searcher.from_settings(settings)


@pytest.fixture(scope="session")
def real_searcher():
    """The real corpus/ indexed with the real offline model (kept under var/test-cache between runs)."""
    return _searcher_for(TEST_CACHE_DIR / "bot-e2e", REPO_ROOT / "corpus")


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
        self.emulator.wait_for(lambda c: c.method == "setMyCommands", since=mark, timeout=60)
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


def _make_harness(tmp_path_factory, searcher, name: str, *, username: str = "isobot_test_bot", flood=None,
                  corpus_dir: Path | None = None, data_dir: Path | None = None, **env) -> BotHarness:
    base = tmp_path_factory.mktemp(name)
    token = f"{700000 + len(name)}:AAE-{name}-secret-token"
    emulator = BotAPIEmulator(token=token, username=username).start()
    values = {
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "ISOBOT_DATA_DIR": str(data_dir or base / "var"),
        "ISOBOT_CORPUS_DIR": str(corpus_dir or REPO_ROOT / "corpus"),
        "DATABASE_URL": f"sqlite:///{base / 'bot.db'}",
        "ADMIN_IDS": str(ADMIN_ID),
    }
    settings = load_settings(**{**values, **env})
    database = Database.from_settings(settings)
    database.upgrade()
    application = build_application(settings, database=database, searcher=searcher, flood=flood)
    return BotHarness(emulator, settings, database, application).start()


@pytest.fixture(scope="session")
def bot(tmp_path_factory, real_searcher):
    """The bot in open mode, long polling."""
    harness = _make_harness(tmp_path_factory, real_searcher, "open", ACCESS_MODE="open")
    yield harness
    harness.stop()
    harness.emulator.stop()


@pytest.fixture(scope="session")
def allowlist_bot(tmp_path_factory, real_searcher):
    """The bot in allowlist mode."""
    harness = _make_harness(tmp_path_factory, real_searcher, "allowlist", ACCESS_MODE="allowlist")
    yield harness
    harness.stop()
    harness.emulator.stop()


@pytest.fixture(scope="session")
def webhook_bot(tmp_path_factory, real_searcher):
    """The bot in webhook mode: the emulator POSTs updates with the secret header."""
    port = _free_port()
    harness = _make_harness(
        tmp_path_factory, real_searcher, "webhook",
        WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram-hook", WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(port), WEBHOOK_SECRET="s3cret-Header_value",
    )
    yield harness
    harness.stop()
    harness.emulator.stop()


_USER_IDS = itertools.count(int(time.time()) % 100_000 * 1000 + 1_000_000)


@pytest.fixture
def user_factory():
    """Fresh user ids per test, so flood windows and allowlists never leak between tests."""

    def make(first_name: str = "Lan", username: str | None = None) -> dict:
        return BotAPIEmulator.user(next(_USER_IDS), first_name, username)

    return make


@pytest.fixture
def copy_corpus(tmp_path):
    def copy(src: Path) -> Path:
        dst = tmp_path / "corpus"
        shutil.copytree(src, dst)
        return dst

    return copy
