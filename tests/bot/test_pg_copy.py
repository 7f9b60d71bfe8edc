"""`isobot db copy`: SQLite → PostgreSQL (or any → any) loses nothing, proved by row counts and checksums."""
from __future__ import annotations

from datetime import timedelta, timezone

import numpy as np
import pytest
from tests.bot.db_engines import db_url, sqlite_url  # noqa: F401  (fixtures)
from sqlalchemy import update

from bot.cli import main
from bot.database import Database
from bot.dbcopy import BATCH_ROWS, CopyRefused, copy_database, table_checksum
from bot.models import Question, User, utcnow
from retrieval import store

SUPERGROUP = -1001234567890  # real supergroup ids do not fit in 32 bits


def _fill(url: str) -> dict:
    """A database shaped like a few months of use: users, groups, many questions, votes, cache, builds."""
    db = Database.from_url(url)
    db.upgrade()
    db.promote(1001)
    db.upsert_user(1001, "Nguyễn Thị Lan", "lan_iso")
    db.allow(2002, name="Trần Văn Bình", by=1001)
    db.deny(3003)
    db.upsert_chat(SUPERGROUP, "supergroup", "Tổ ISO – UBND phường")
    db.allow(SUPERGROUP, by=1001)
    base = utcnow() - timedelta(days=90)
    rows = []
    for i in range(BATCH_ROWS + 234):  # more than one copy batch
        rows.append({
            "user_id": (1001, 2002, None)[i % 3], "chat_id": SUPERGROUP if i % 2 else None,
            "text": f"Câu hỏi số {i}: kiểm soát thông tin dạng văn bản ạ?",
            "normalized_text": f"câu hỏi số {i}: kiểm soát thông tin dạng văn bản ạ?",
            "answered": i % 5 != 0, "passage_ids": [f"tcvn-iso-9001-2015#7.5.{i % 3 + 1}"] if i % 5 else [],
            "latency_ms": 12.5 + i / 7, "source": ("telegram", "inline", "terminal")[i % 3],
            "created_at": base + timedelta(minutes=97 * i),
        })
    with db.engine.begin() as conn:
        conn.execute(Question.__table__.insert(), rows)
    for qid in range(1, 200, 3):
        db.record_feedback(qid, 1001, 1 if qid % 2 else -1, "Chưa rõ mục nào" if qid % 7 == 0 else None)
    vectors = {store.text_hash(f"passage: đoạn {i}"): np.random.default_rng(i).random(384, dtype=np.float32)
               for i in range(40)}
    store.store_vectors(db.engine, "offline-e5-small", vectors)
    store.record_build_started(db.engine, "20260101-000000", model="offline-e5-small")
    store.record_build_finished(db.engine, "20260101-000000", "ok", documents=12, passages=340, seconds=81.25)
    expected = {"stats": db.stats(), "unanswered": db.unanswered(), "users": db.list_users(),
                "chats": db.list_chats(), "vectors": vectors, "builds": store.recent_builds(db.engine)}
    db.close()
    return expected


def _target(url: str) -> str:
    # A PostgreSQL session in Vietnam's time zone must not shift the UTC times SQLite holds.
    if url.startswith("postgresql"):
        return url + "?options=-c%20timezone%3DAsia/Ho_Chi_Minh"
    return url


def test_copy_loses_nothing(sqlite_url, db_url):  # noqa: F811
    expected = _fill(sqlite_url)
    target_url = _target(db_url)

    results = copy_database(sqlite_url, target_url)

    by_table = {r.table: r for r in results}
    assert set(by_table) >= {"users", "chats", "questions", "feedback", "embedding_cache", "index_builds"}
    assert all(r.ok for r in results), results
    assert by_table["questions"].target_rows == BATCH_ROWS + 234
    assert by_table["users"].target_rows == 3 and by_table["embedding_cache"].target_rows == 40

    target = Database.from_url(target_url)
    try:
        assert target.stats() == expected["stats"]
        assert target.unanswered() == expected["unanswered"]
        assert target.list_users() == expected["users"]
        assert target.list_chats() == expected["chats"]
        assert target.is_allowed(user_id=55, chat_id=SUPERGROUP) and not target.is_allowed(user_id=3003)
        cached = store.get_cached_vectors(target.engine, "offline-e5-small", expected["vectors"])
        assert set(cached) == set(expected["vectors"])
        assert all(np.array_equal(cached[k], v) for k, v in expected["vectors"].items())
        [build] = store.recent_builds(target.engine)
        [source_build] = expected["builds"]
        as_utc = lambda t: t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t  # noqa: E731
        assert as_utc(build.started_at) == as_utc(source_build.started_at)
        assert (build.passages, build.seconds, build.status) == (340, 81.25, "ok")
        # New rows continue after the copied ids (PostgreSQL sequences moved past them).
        assert target.log_question(1001, 1001, "mới", "mới", True, [], 1.0, "telegram") == BATCH_ROWS + 235
    finally:
        target.close()


def test_checksum_notices_a_changed_value(sqlite_url, db_url):  # noqa: F811
    _fill(sqlite_url)
    copy_database(sqlite_url, db_url)
    target = Database.from_url(db_url)
    try:
        table = User.__table__
        before = table_checksum(target.engine, table)
        with target.engine.begin() as conn:
            conn.execute(update(User).where(User.telegram_id == 2002).values(name="Trần Văn Binh"))
        after = table_checksum(target.engine, table)
        assert before[0] == after[0] and before[1] != after[1]
    finally:
        target.close()


def test_copy_refuses_a_non_empty_destination_unless_replace(sqlite_url, db_url):  # noqa: F811
    _fill(sqlite_url)
    copy_database(sqlite_url, db_url)
    with pytest.raises(CopyRefused) as refused:
        copy_database(sqlite_url, db_url)
    assert refused.value.reason == "target_not_empty" and "questions" in refused.value.detail

    again = copy_database(sqlite_url, db_url, replace=True)
    assert all(r.ok for r in again)
    assert {r.table: r.target_rows for r in again}["questions"] == BATCH_ROWS + 234  # replaced, not doubled


def test_copy_refuses_an_outdated_source(sqlite_url, db_url):  # noqa: F811
    from alembic import command

    source = Database.from_url(sqlite_url)
    with source.engine.begin() as conn:
        command.upgrade(source._alembic_config(conn), "0001")
    source.close()
    with pytest.raises(CopyRefused) as refused:
        copy_database(sqlite_url, db_url)
    assert refused.value.reason == "source_outdated"


def test_cli_copy_prints_counts_and_checksums(sqlite_url, db_url, tmp_path, monkeypatch, capsys):  # noqa: F811
    _fill(sqlite_url)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(tmp_path))

    assert main(["db", "copy", "--to", db_url]) == 0
    out = capsys.readouterr().out
    questions_line = next(line for line in out.splitlines() if line.strip().startswith("questions"))
    assert questions_line.split()[1:3] == [str(BATCH_ROWS + 234)] * 2 and questions_line.rstrip().endswith("OK")
    assert "mọi bảng khớp số dòng và checksum" in out

    assert main(["db", "copy", "--to", db_url]) == 1
    assert "--replace" in capsys.readouterr().err
    assert main(["db", "copy"]) == 2


def test_copy_back_to_a_sqlite_file(db_url, tmp_path):  # noqa: F811
    """Any → any: a PostgreSQL (or SQLite) database copies into a fresh SQLite file, e.g. for a test machine."""
    expected = _fill(db_url)
    back = f"sqlite:///{tmp_path / 'back.db'}"
    results = copy_database(db_url, back)
    assert all(r.ok for r in results) and {r.table: r.target_rows for r in results}["feedback"] == 67
    copy = Database.from_url(back)
    try:
        assert copy.stats() == expected["stats"] and copy.unanswered() == expected["unanswered"]
    finally:
        copy.close()
