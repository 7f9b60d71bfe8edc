"""bot.database on a real SQLite file and, when configured, a real PostgreSQL server."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from tests.bot.db_engines import db_url  # noqa: F401  (fixture)
from sqlalchemy import update

from bot.database import Database, DatabaseUnavailable
from bot.models import Feedback, Question, utcnow


@pytest.fixture
def db(db_url):  # noqa: F811
    database = Database.from_url(db_url)
    database.upgrade()
    yield database
    database.close()


def _age_questions(db: Database, ids: list[int], days: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(Question).where(Question.id.in_(ids)).values(created_at=utcnow() - timedelta(days=days)))


def test_upgrade_twice_keeps_data(db):
    db.upsert_user(42, "Lê Thị Hoa", "hoa")
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    assert [u.name for u in db.list_users()] == ["Lê Thị Hoa"]


def test_seen_user_is_not_allowlisted_until_added(db):
    db.upsert_user(42, "Lê Thị Hoa", "hoa")
    assert db.user_role(42) == "user"
    assert db.is_allowed(user_id=42, chat_id=42) is False

    db.allow(42, by=7)
    assert db.is_allowed(user_id=42, chat_id=42) is True
    # Seeing the user again (new name) must not reset the allowlist entry.
    db.upsert_user(42, "Lê Thị Hoa (Phòng Nội vụ)", None)
    assert db.is_allowed(user_id=42) is True
    row = {u.telegram_id: u for u in db.list_users()}[42]
    assert (row.name, row.username, row.status, row.added_by) == ("Lê Thị Hoa (Phòng Nội vụ)", "hoa", "active", 7)


def test_unknown_user_has_no_role_and_is_refused(db):
    assert db.user_role(999) is None
    assert db.is_allowed(user_id=999) is False
    assert db.is_allowed() is False


def test_allowlisted_group_admits_members_but_not_blocked_ones(db):
    db.upsert_chat(-100123, "supergroup", "Tổ ISO UBND xã")
    assert db.is_allowed(user_id=5, chat_id=-100123) is False
    db.allow(-100123, by=1)
    assert db.is_allowed(user_id=5, chat_id=-100123) is True
    db.deny(6)
    assert db.is_allowed(user_id=6, chat_id=-100123) is False
    # The group allowlist does not follow the member into a private chat.
    assert db.is_allowed(user_id=5, chat_id=5) is False
    chats = {c.id: c for c in db.list_chats()}
    assert chats[-100123].allowed and chats[-100123].title == "Tổ ISO UBND xã"

    db.deny(-100123)
    assert db.is_allowed(user_id=5, chat_id=-100123) is False


def test_remove_blocks_an_allowlisted_user(db):
    db.allow(11, name="Trần B")
    db.deny(11)
    assert db.is_allowed(user_id=11) is False
    assert {u.telegram_id: u.status for u in db.list_users()}[11] == "blocked"


def test_promote_makes_an_allowlisted_admin(db):
    db.upsert_user(3, "Đỗ E", None)
    db.upsert_user(8, "Phạm C", None)
    db.promote(8)
    assert db.user_role(8) == "admin"
    assert db.is_allowed(user_id=8) is True
    assert [u.telegram_id for u in db.list_users()] == [8, 3]  # admins listed first


def test_question_log_round_trips_vietnamese_text_and_passage_ids(db):
    qid = db.log_question(42, -100123, "Điều 7.5.3 yêu cầu gì?  ", "điều 7.5.3 yêu cầu gì?", True,
                          ["tcvn-iso-9001-2015#7.5.3", "qt-01#5.2"], 123.4, "telegram")
    qid2 = db.log_question(None, None, "xin chào", "xin chào", False, [], 5, "terminal")
    assert qid2 > qid
    with db.engine.connect() as conn:
        row = conn.execute(Question.__table__.select().where(Question.id == qid)).one()
    assert row.text == "Điều 7.5.3 yêu cầu gì?  "
    assert row.passage_ids == ["tcvn-iso-9001-2015#7.5.3", "qt-01#5.2"]
    assert row.answered is True and row.latency_ms == pytest.approx(123.4)
    assert row.chat_id == -100123 and row.source == "telegram"


def test_feedback_is_one_vote_per_user_and_the_last_wins(db):
    qid = db.log_question(42, 42, "hồ sơ lưu bao lâu", "hồ sơ lưu bao lâu", True, ["a#1"], 10, "telegram")
    db.record_feedback(qid, 42, +1)
    db.record_feedback(qid, 42, -1, "Thiếu thời hạn lưu cụ thể")
    db.record_feedback(qid, 43, +1)
    with db.engine.connect() as conn:
        rows = conn.execute(Feedback.__table__.select().order_by(Feedback.user_id)).all()
    assert [(r.user_id, r.value, r.comment) for r in rows] == [(42, -1, "Thiếu thời hạn lưu cụ thể"), (43, 1, None)]
    stats = db.stats()
    assert (stats.thumbs_up, stats.thumbs_down) == (1, 1)


def test_feedback_rejects_other_values_and_ignores_purged_questions(db):
    qid = db.log_question(42, 42, "q", "q", True, [], 1, "telegram")
    with pytest.raises(ValueError):
        db.record_feedback(qid, 42, 0)
    db.record_feedback(qid + 1000, 42, 1)  # no such question: no error, nothing stored
    assert db.stats().thumbs_up == 0


def test_purge_deletes_old_questions_with_their_feedback_only(db):
    old = db.log_question(1, 1, "câu hỏi cũ", "câu hỏi cũ", True, [], 1, "telegram")
    recent = db.log_question(1, 1, "câu hỏi mới", "câu hỏi mới", True, [], 1, "telegram")
    db.record_feedback(old, 1, -1)
    db.record_feedback(recent, 1, 1)
    _age_questions(db, [old], days=200)

    assert db.purge_questions(180) == 1
    assert db.purge_questions(180) == 0
    stats = db.stats()
    assert stats.questions == 1 and stats.top_questions[0].text == "câu hỏi mới"
    assert (stats.thumbs_up, stats.thumbs_down) == (1, 0)
    assert db.unanswered() == []


def test_concurrent_question_logging_loses_nothing(db):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                db.log_question(n, n, f"câu {n}-{i}", f"câu {n}-{i}", i % 2 == 0, [], 1.0, "telegram")
                db.upsert_user(n, f"user {n}", None)
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = db.stats()
    assert (stats.questions, stats.answered, stats.users) == (60, 32, 4)


def test_unreachable_database_raises_database_unavailable(tmp_path):
    # A directory where the SQLite file should be: the driver cannot open it.
    (tmp_path / "isobot.db").mkdir()
    broken = Database.from_url(f"sqlite:///{tmp_path / 'isobot.db'}")
    with pytest.raises(DatabaseUnavailable):
        broken.upgrade()
    with pytest.raises(DatabaseUnavailable):
        broken.is_allowed(user_id=1)


def test_unreachable_postgres_raises_database_unavailable():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    db = Database.from_url(f"postgresql+psycopg://isobot@127.0.0.1:{port}/isobot?connect_timeout=2")
    with pytest.raises(DatabaseUnavailable):
        db.log_question(1, 1, "q", "q", True, [], 1.0, "telegram")


def test_database_errors_do_not_carry_the_question_text(tmp_path):
    """The bot logs DatabaseUnavailable; its message must name the problem, not the user's words."""
    db = Database.from_url(f"sqlite:///{tmp_path / 'isobot.db'}")
    db.upgrade()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE feedback")
        conn.exec_driver_sql("DROP TABLE questions")
    secret = "Hồ sơ của bà Trần Thị Kín, CCCD 001234567890"
    with pytest.raises(DatabaseUnavailable) as err:
        db.log_question(1, 1, secret, secret, False, [], 1.0, "telegram")
    assert "questions" in str(err.value) and "001234567890" not in str(err.value)
    db.close()


def test_double_tapped_votes_leave_one_row(db):
    qid = db.log_question(42, 42, "q", "q", True, ["a#1"], 1.0, "telegram")
    errors: list[BaseException] = []

    def tap(value: int) -> None:
        try:
            for _ in range(5):
                db.record_feedback(qid, 42, value)
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=tap, args=(v,)) for v in (1, -1, 1, -1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = db.stats()
    assert stats.thumbs_up + stats.thumbs_down == 1
