"""The running bot under faults: its database locked or gone, Telegram answering 429, 500 or slowly.

Each test starts a bot of its own (real Application, real SQLite file, the emulator over HTTP),
breaks one thing, and checks what users would notice: a reply (the answer, or a polite apology
in Vietnamese), exactly one reply per question, and the bot still serving afterwards.
"""
from __future__ import annotations

import logging
import shutil
import sqlite3
import time

import pytest
from tests.bot.emulator import parse_html
from sqlalchemy import event, text

from bot import messages as msg

QUESTION = "xem xét của lãnh đạo gồm những nội dung gì"
ANSWER_MARK = "Điều 9.3"
BUSY_TIMEOUT_MS = 1500  # production waits 30 s for a lock; the same code path, shorter


def _is_apology(call) -> bool:
    return call.ok and parse_html(call.text)[0] == msg.DATABASE_TROUBLE


def _refused_replies(bot, since: int) -> list:
    """Replies Telegram would have refused (start-up calls such as command menus are not under test)."""
    return [c for c in bot.emulator.errors(since) if c.method != "setMyCommands"]


def _replies(bot, chat_id: int, since: int) -> list:
    return [c for c in bot.emulator.calls(since, "sendMessage") if c.chat_id == chat_id]


def _logged(bot, fragment: str) -> int:
    with bot.database.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM questions WHERE text LIKE :f"),
                                {"f": f"%{fragment}%"}).scalar())


@pytest.fixture
def db_bot(make_bot, tmp_path):
    """A bot whose SQLite file sits in a folder of its own (so it can be taken away)."""
    db_dir = tmp_path / "db"
    bot = make_bot("dbfault", ACCESS_MODE="open", DATABASE_URL=f"sqlite:///{db_dir / 'bot.db'}")
    engine = bot.database.engine

    @event.listens_for(engine, "connect")
    def _short_busy_timeout(dbapi_conn, _record):
        dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    engine.dispose()
    bot.db_dir = db_dir
    bot.start_mark = bot.emulator.mark()  # start-up calls (command menus) are not under test here
    return bot


def test_database_locked_during_questions(db_bot, user_factory, caplog):
    bot = db_bot
    caplog.set_level(logging.INFO)
    known, newcomer = user_factory("Hà"), user_factory("Minh")
    known_chat, new_chat = bot.emulator.private_chat(known), bot.emulator.private_chat(newcomer)
    _, (reply,) = bot.ask(known, known_chat, "đánh giá nội bộ")
    assert "Điều 9.2" in reply.text

    # Someone (a backup, a purge, a stuck admin shell) holds the write lock.
    holder = sqlite3.connect(str(bot.db_dir / "bot.db"), timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        mark = bot.emulator.mark()
        bot.emulator.send_text(known, known_chat, f"{QUESTION} (lúc khóa 1)")
        bot.emulator.send_text(newcomer, new_chat, f"{QUESTION} (lúc khóa 2)")
        known_reply = bot.emulator.wait_reply(known_chat["id"], mark, timeout=60)[0]
        new_reply = bot.emulator.wait_reply(new_chat["id"], mark, timeout=60)[0]
        # Both still get the answer (open mode needs no database to decide); only the log waits.
        assert known_reply.ok and ANSWER_MARK in known_reply.text
        assert new_reply.ok and ANSWER_MARK in new_reply.text
        assert _logged(bot, "(lúc khóa") == 0
        # Readers are not blocked by a writer (WAL): an admin's report still works.
        admin = bot.emulator.user(bot.settings.admin_ids[0], "Quản trị")
        _, (reply,) = bot.ask(admin, bot.emulator.private_chat(admin), "/stats")
        assert reply.ok and "Thống kê sử dụng" in reply.text
    finally:
        holder.rollback()
        holder.close()

    # The lock is gone: served again, nothing answered twice, and the questions asked during the
    # lock are in the log now.
    mark = bot.emulator.mark()
    _, (reply,) = bot.ask(known, known_chat, "kiểm soát thông tin dạng văn bản")
    assert "Điều 7.5" in reply.text
    assert len(_replies(bot, known_chat["id"], mark)) == 1
    assert not _replies(bot, new_chat["id"], mark)
    assert _logged(bot, "(lúc khóa 1)") == 1 and _logged(bot, "(lúc khóa 2)") == 1
    assert not _refused_replies(bot, bot.start_mark)
    assert bot.crashed is None


def test_database_unreachable_then_back(db_bot, user_factory):
    bot = db_bot
    known = user_factory("Thu")
    chat = bot.emulator.private_chat(known)
    _, (reply,) = bot.ask(known, chat, "đánh giá nội bộ")
    assert "Điều 9.2" in reply.text

    # The database disappears (an unmounted volume, a moved file): new connections fail.
    away = bot.db_dir.with_name("db-away")
    shutil.move(bot.db_dir, away)
    bot.database.engine.dispose()
    try:
        _, (reply,) = bot.ask(known, chat, f"{QUESTION} (lúc mất)")
        assert ANSWER_MARK in reply.text
        stranger = user_factory("Lạ")
        _, (reply,) = bot.ask(stranger, bot.emulator.private_chat(stranger), f"{QUESTION} (lúc mất 2)")
        assert ANSWER_MARK in reply.text  # open mode: nobody is turned away for a missing database
        admin = bot.emulator.user(bot.settings.admin_ids[0], "Quản trị")
        _, (reply,) = bot.ask(admin, bot.emulator.private_chat(admin), "/stats")
        assert _is_apology(reply)  # what cannot work without the database says so politely
    finally:
        shutil.move(away, bot.db_dir)
        bot.database.engine.dispose()

    _, (reply,) = bot.ask(known, chat, "kiểm soát thông tin dạng văn bản")
    assert "Điều 7.5" in reply.text
    assert _logged(bot, "(lúc mất)") == 1 and _logged(bot, "(lúc mất 2)") == 1
    assert not _refused_replies(bot, bot.start_mark)


# ----------------------------------------------------------------------------- Telegram faults
def _ask_all(bot, users_chats, text, timeout=90):
    mark = bot.emulator.mark()
    for user, chat in users_chats:
        bot.emulator.send_text(user, chat, text)
    for _, chat in users_chats:
        bot.emulator.wait_for(lambda c, cid=chat["id"]: c.method == "sendMessage" and c.ok and c.chat_id == cid,
                              mark, timeout=timeout)
    return mark


def _exactly_one_delivered(bot, users_chats, mark, settle: float = 2.0) -> None:
    time.sleep(settle)  # late duplicates would arrive now
    for _, chat in users_chats:
        delivered = [c for c in _replies(bot, chat["id"], mark) if c.ok]
        assert len(delivered) == 1, [(c.status, c.text[:40]) for c in _replies(bot, chat["id"], mark)]


def test_telegram_429_on_every_kind_of_call_is_retried_without_duplicates(make_bot, user_factory):
    bot = make_bot("tg429", ACCESS_MODE="open")
    users_chats = [(u, bot.emulator.private_chat(u)) for u in (user_factory() for _ in range(4))]
    bot.emulator.fail("sendMessage", status=429, retry_after=1, times=3)
    bot.emulator.fail("getUpdates", status=429, retry_after=1, times=2)
    mark = _ask_all(bot, users_chats, QUESTION)
    _exactly_one_delivered(bot, users_chats, mark)
    refused = [c for c in bot.emulator.calls(mark) if c.status == 429]
    assert len(refused) >= 3  # the faults really happened
    for _, chat in users_chats:
        assert ANSWER_MARK in [c for c in _replies(bot, chat["id"], mark) if c.ok][0].text


def test_telegram_500_on_polling_loses_no_update(make_bot, user_factory):
    bot = make_bot("tg500", ACCESS_MODE="open")
    users_chats = [(u, bot.emulator.private_chat(u)) for u in (user_factory() for _ in range(3))]
    bot.emulator.fail("getUpdates", status=500, times=3)
    mark = _ask_all(bot, users_chats, QUESTION)
    _exactly_one_delivered(bot, users_chats, mark)
    assert [c for c in bot.emulator.calls(mark, "getUpdates") if c.status == 500]


def test_telegram_500_on_send_is_retried_once_and_delivered_once(make_bot, user_factory):
    bot = make_bot("tg500send", ACCESS_MODE="open")
    users_chats = [(u, bot.emulator.private_chat(u)) for u in (user_factory() for _ in range(2))]
    bot.emulator.fail("sendMessage", status=500, times=1)
    mark = _ask_all(bot, users_chats, QUESTION)
    _exactly_one_delivered(bot, users_chats, mark)
    failed = [c for c in bot.emulator.calls(mark, "sendMessage") if c.status == 500]
    assert len(failed) == 1


def test_telegram_timeout_on_send_is_not_resent(make_bot, user_factory, caplog):
    """A reply the bot timed out on may have arrived: sending it again would duplicate it."""
    bot = make_bot("tgslow", ACCESS_MODE="open")
    caplog.set_level(logging.WARNING)
    slow_user, fast_user = user_factory(), user_factory()
    slow_chat, fast_chat = bot.emulator.private_chat(slow_user), bot.emulator.private_chat(fast_user)
    read_timeout = bot.application.bot.request._client.timeout.read or 5.0
    bot.emulator.delay("sendMessage", read_timeout + 3, chat_id=slow_chat["id"])
    try:
        mark = bot.emulator.mark()
        bot.emulator.send_text(slow_user, slow_chat, QUESTION)
        delivered = bot.emulator.wait_reply(slow_chat["id"], mark, timeout=60)[0]
        assert ANSWER_MARK in delivered.text
        # Meanwhile others are served at once.
        _, (reply,) = bot.ask(fast_user, fast_chat, "đánh giá nội bộ")
        assert "Điều 9.2" in reply.text
    finally:
        bot.emulator.delay("sendMessage", 0, chat_id=slow_chat["id"])
    time.sleep(read_timeout + 2)
    assert len([c for c in _replies(bot, slow_chat["id"], mark) if c.ok]) == 1
    assert "TimedOut" in caplog.text  # the bot noticed, logged it, and did not crash
    _, (reply,) = bot.ask(slow_user, slow_chat, "kiểm soát thông tin dạng văn bản")
    assert "Điều 7.5" in reply.text
    assert bot.crashed is None


def test_polling_timeout_loses_and_duplicates_nothing(make_bot, user_factory, caplog):
    """A long poll that Telegram answers too late: the bot gives up, polls again, and the update
    (confirmed only by the next offset) is handled exactly once."""
    bot = make_bot("pollslow", ACCESS_MODE="open")
    caplog.set_level(logging.DEBUG, logger="telegram.ext")  # PTB's network retry loop logs here
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    bot.emulator.delay("getUpdates", 20)  # PTB gives up on a poll after 10 s + its 5 s read timeout
    try:
        # The poll in flight ends within its 10 s long-poll window; the next one is the slow one.
        time.sleep(11)
        mark = bot.emulator.mark()
        bot.emulator.send_text(user, chat, QUESTION)
        deadline = time.monotonic() + 40
        while "Timed out" not in caplog.text:
            assert time.monotonic() < deadline, "the bot never timed out on the slow poll"
            time.sleep(0.2)
    finally:
        bot.emulator.delay("getUpdates", 0)
    reply = bot.emulator.wait_reply(chat["id"], mark, timeout=60)[0]
    assert ANSWER_MARK in reply.text
    time.sleep(3)
    assert len([c for c in _replies(bot, chat["id"], mark) if c.ok]) == 1
    assert bot.crashed is None
