"""Fixtures for the fault tests: the bot e2e harness of tests/bot/conftest.py, reused, with bots of
their own (a database we may lock or take away, a webhook, captured logs) so that breaking things
here never disturbs the shared session bots."""
from __future__ import annotations

import pytest

from tests.bot import conftest as e2e

# Re-exported so pytest registers them for tests/faults as well.
real_searcher = e2e.real_searcher
user_factory = e2e.user_factory
ADMIN_ID = e2e.ADMIN_ID


@pytest.fixture
def make_bot(tmp_path_factory, real_searcher):
    """make_bot(name, **settings) -> a started BotHarness of its own; stopped after the test."""
    started = []

    def make(name: str, **env):
        harness = e2e._make_harness(tmp_path_factory, real_searcher, name, **env)
        started.append(harness)
        return harness

    yield make
    for harness in started:
        harness.stop()
        harness.emulator.stop()
