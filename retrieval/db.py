"""Database engine and declarative base shared by retrieval-side and bot-side tables."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker


class Base(DeclarativeBase):
    """All isobot tables (retrieval.store, bot.models) hang off this metadata."""


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL, same code."""
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        # Writes are short; waiting longer than a few seconds would only hold a user's answer back.
        engine = create_engine(url, connect_args={"timeout": 5})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def ensure_schema(engine: Engine) -> None:
    """Create missing tables (idempotent). Alembic migrations (bot.database) are the real schema history."""
    import retrieval.store  # noqa: F401  (registers retrieval tables)

    Base.metadata.create_all(engine, checkfirst=True)
