"""Fixtures for the bot's end-to-end tests: a real index, a real SQLite file, the real Application
(the one `isobot run` builds) serving in a thread against the Bot API emulator over real HTTP."""
from __future__ import annotations

import itertools
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulator import BotAPIEmulator  # noqa: E402
from harness import BotHarness  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.database import Database  # noqa: E402
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
