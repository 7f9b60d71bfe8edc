"""Alembic migrations: from empty, from each previous revision with data in it, and over tables made by create_all."""
from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from tests.bot.db_engines import db_url  # noqa: F401  (fixture)
from sqlalchemy import func, inspect, select

import bot.models  # noqa: F401
from bot.cli import main
from bot.database import Database
from retrieval.db import Base

BOT_TABLES = {"users", "chats", "questions", "feedback"}


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(Database.from_url("sqlite://")._alembic_config(None))


def _revisions_with_parent() -> list[tuple[str, str]]:
    revs = [(r.revision, r.down_revision) for r in _script().walk_revisions() if r.down_revision]
    return revs or [pytest.param(None, None, marks=pytest.mark.skip(reason="only one revision so far"))]


def _migrate(db: Database, action, revision: str) -> None:
    with db.engine.begin() as conn:
        action(db._alembic_config(conn), revision)


# Rows a real deployment would hold (ids left to the database, as the bot does).
SAMPLE_ROWS = {
    "users": [{"telegram_id": 42, "name": "Nguyễn Thị Lan", "username": "lan", "role": "admin", "status": "active",
               "created_at": datetime(2025, 1, 2, 3, 4, 5), "updated_at": datetime(2025, 1, 2, 3, 4, 5)}],
    "chats": [{"id": -100777, "kind": "supergroup", "title": "Tổ ISO", "allowed": True,
               "created_at": datetime(2025, 1, 2), "updated_at": datetime(2025, 1, 2)}],
    "questions": [{"user_id": 42, "chat_id": -100777, "text": "Điều 9.2 đánh giá nội bộ?",
                   "normalized_text": "điều 9.2 đánh giá nội bộ?", "answered": True, "passage_ids": ["iso#9.2"],
                   "latency_ms": 88.5, "source": "telegram", "created_at": datetime(2025, 3, 1, 8, 0)}],
    "feedback": [{"question_id": 1, "user_id": 42, "value": 1, "comment": "Rõ ràng",
                  "created_at": datetime(2025, 3, 1, 8, 1)}],
}


def _counts(db: Database) -> dict[str, int]:
    present = set(inspect(db.engine).get_table_names())
    with db.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in Base.metadata.sorted_tables if t.name in present}


def test_upgrade_from_empty_creates_every_table_matching_the_models(db_url):  # noqa: F811
    db = Database.from_url(db_url)
    try:
        db.upgrade()
        assert db.current_revision() == db.head_revision()
        tables = set(inspect(db.engine).get_table_names())
        assert BOT_TABLES | {"alembic_version"} <= tables
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        # The migrations and the models describe the same schema (no drift in columns, types, nullability).
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
    finally:
        db.close()


@pytest.mark.parametrize(("revision", "previous"), _revisions_with_parent())
def test_upgrade_from_previous_revision_keeps_its_data(db_url, revision, previous):  # noqa: F811
    db = Database.from_url(db_url)
    try:
        _migrate(db, command.upgrade, previous)
        present = set(inspect(db.engine).get_table_names())
        with db.engine.begin() as conn:
            for table in Base.metadata.sorted_tables:
                if table.name in present and table.name in SAMPLE_ROWS:
                    conn.execute(table.insert(), SAMPLE_ROWS[table.name])
        before = _counts(db)
        _migrate(db, command.upgrade, revision)
        after = _counts(db)
        assert {k: after[k] for k in before} == before
        with db.engine.connect() as conn:
            q = conn.execute(select(Base.metadata.tables["questions"])).one()
        assert (q.text, q.passage_ids) == ("Điều 9.2 đánh giá nội bộ?", ["iso#9.2"])
    finally:
        db.close()


def test_first_revision_upgrade_with_data_then_head(db_url):  # noqa: F811
    """The oldest schema, filled like a deployment, upgrades to head and the bot API still reads it."""
    first = [r.revision for r in _script().walk_revisions() if r.down_revision is None][0]
    db = Database.from_url(db_url)
    try:
        _migrate(db, command.upgrade, first)
        with db.engine.begin() as conn:
            for name in ("users", "chats", "questions", "feedback"):
                conn.execute(Base.metadata.tables[name].insert(), SAMPLE_ROWS[name])
        db.upgrade()
        assert db.user_role(42) == "admin"
        assert db.is_allowed(user_id=5, chat_id=-100777)
        stats = db.stats()
        assert (stats.questions, stats.answered, stats.thumbs_up) == (1, 1, 1)
        # Ids keep counting after the migrated rows (PostgreSQL sequences included).
        assert db.log_question(42, 42, "mới", "mới", True, [], 1.0, "telegram") == 2
    finally:
        db.close()


def test_upgrade_over_tables_made_by_create_all(db_url):  # noqa: F811
    """retrieval.db.ensure_schema may run before the first upgrade; the upgrade adopts those tables."""
    db = Database.from_url(db_url)
    try:
        Base.metadata.create_all(db.engine)
        db.upsert_user(7, "Hoàng D", None)
        db.upgrade()
        assert db.current_revision() == db.head_revision()
        assert [u.name for u in db.list_users()] == ["Hoàng D"]
    finally:
        db.close()


def test_downgrade_to_empty_and_back(db_url):  # noqa: F811
    db = Database.from_url(db_url)
    try:
        db.upgrade()
        _migrate(db, command.downgrade, "base")
        assert not BOT_TABLES & set(inspect(db.engine).get_table_names())
        db.upgrade()
        assert BOT_TABLES <= set(inspect(db.engine).get_table_names())
    finally:
        db.close()


def test_cli_db_upgrade_and_current(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(tmp_path))
    head = Database.from_url(url).head_revision()

    assert main(["db", "current"]) == 0
    assert "(chưa có)" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"(trống) → {head}" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert f"phiên bản {head} (mới nhất: {head})" in capsys.readouterr().out


def test_simultaneous_first_upgrades_from_several_processes(db_url):  # noqa: F811
    """The bot, cron's reindex and an admin command starting together on a fresh database all succeed."""
    import subprocess
    import sys

    code = "import sys; from bot.database import Database; Database.from_url(sys.argv[1]).upgrade()"
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    db = Database.from_url(db_url)
    try:
        assert db.current_revision() == db.head_revision()
    finally:
        db.close()
