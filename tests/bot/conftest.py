"""Fixtures for the bot's end-to-end tests: a real index, a real SQLite file, the real Application
(the one `isobot run` builds) serving in a thread against the Bot API emulator over real HTTP."""
from __future__ import annotations

import itertools
import socket
import time
from pathlib import Path

import pytest


from tests.bot.emulator import BotAPIEmulator  # noqa: E402
from tests.bot.harness import BotHarness  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.database import Database  # noqa: E402
from retrieval.settings import load_settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_ID = 900001


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def searcher_for(settings, embedder):
    """Reindex (incremental) and load the live Searcher, sharing the session's embedder."""
    from retrieval.index import reindex
    from retrieval.search import Searcher

    reindex(settings, progress=False, embedder=embedder)
    return Searcher.from_settings(settings, embedder=embedder)


@pytest.fixture(scope="session")
def real_searcher(built_index, embedder):
    """The real corpus/ indexed with the real offline model (the shared `built_index`)."""
    from retrieval.search import Searcher

    return Searcher.from_settings(built_index, embedder=embedder)


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
def bot(tmp_path_factory, real_searcher, built_index):
    """The bot in open mode, long polling."""
    harness = _make_harness(tmp_path_factory, real_searcher, "open", data_dir=built_index.data_dir,
                            ACCESS_MODE="open")
    yield harness
    harness.stop()
    harness.emulator.stop()


@pytest.fixture(scope="session")
def allowlist_bot(tmp_path_factory, real_searcher, built_index):
    """The bot in allowlist mode."""
    harness = _make_harness(tmp_path_factory, real_searcher, "allowlist", data_dir=built_index.data_dir,
                            ACCESS_MODE="allowlist")
    yield harness
    harness.stop()
    harness.emulator.stop()


@pytest.fixture(scope="session")
def webhook_bot(tmp_path_factory, real_searcher, built_index):
    """The bot in webhook mode: the emulator POSTs updates with the secret header."""
    port = _free_port()
    harness = _make_harness(
        tmp_path_factory, real_searcher, "webhook", data_dir=built_index.data_dir,
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
