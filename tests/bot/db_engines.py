"""The `db_url` fixture: every database test runs on a fresh SQLite file and, when a server is configured, on PostgreSQL.

Import it into a test module with `from tests.bot.db_engines import db_url`.
.ci/run starts a throwaway PostgreSQL cluster and sets ISOBOT_TEST_POSTGRES_URL; without it the
PostgreSQL variants skip with the reason below.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("ISOBOT_TEST_POSTGRES_URL", "")
NO_POSTGRES = (
    "PostgreSQL tests skipped: ISOBOT_TEST_POSTGRES_URL is not set "
    "(.ci/run starts a throwaway server; or export postgresql+psycopg://user@host:port/db)"
)

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)),
]


def fresh_postgres_url():
    """Create an empty database on the configured server; yield its URL; drop it afterwards."""
    base = make_url(POSTGRES_URL)
    name = f"isobot_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=ENGINES)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'isobot.db'}"
    else:
        yield from fresh_postgres_url()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'source.db'}"
