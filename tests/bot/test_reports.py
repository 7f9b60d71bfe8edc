"""The admin reports (`isobot stats`, `unanswered`, `users`, `purge`) on a filled database, driven through the CLI."""
from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from tests.bot.db_engines import db_url  # noqa: F401  (fixture)
from hypothesis import given, settings as hyp_settings, strategies as st
from sqlalchemy import update

from bot.cli import main
from bot.database import Database
from bot.models import Question, utcnow
from bot.reports import cluster_questions, content_words, fold

TODAY = datetime.now().date()  # reports count days in the server's local time
LAST_WEEK = TODAY - timedelta(days=7)

# (text, answered, vote, days ago): what a small agency's log looks like after a week.
LOG = [
    ("Kiểm soát tài liệu như thế nào?", True, +1, 0),
    ("kiem soat tai lieu ntn", True, +1, 0),
    ("Kiểm soát tài liệu như thế nào?", True, None, 1),
    ("Giá vàng hôm nay bao nhiêu?", False, None, 0),
    ("gia vang hom nay bao nhieu", False, None, 1),
    ("giá vàng hôm nay", False, None, 1),
    ("Thủ tục cấp giấy phép xây dựng mất bao lâu", False, None, 0),
    ("thu tuc cap giay phep xay dung bao lau", False, None, 0),
    ("Điều 7.1.6 tri thức của tổ chức là gì", True, -1, 0),
    ("Lịch họp giao ban tuần sau", False, None, 10),  # older than --since LAST_WEEK
    ("Đánh giá nội bộ bao lâu một lần?", True, +1, 2),
]


@pytest.fixture
def filled(db_url, tmp_path, monkeypatch):  # noqa: F811
    db = Database.from_url(db_url)
    db.upgrade()
    for n, (text, answered, vote, days_ago) in enumerate(LOG):
        user = 500 + n % 3
        qid = db.log_question(user, user, text, text.lower(), answered, ["iso#7.5"] if answered else [], 40.0 + n,
                              "telegram")
        if vote:
            db.record_feedback(qid, user, vote)
        if days_ago:
            with db.engine.begin() as conn:
                conn.execute(update(Question).where(Question.id == qid)
                             .values(created_at=utcnow() - timedelta(days=days_ago)))
    db.close()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(tmp_path))
    return db_url


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_stats_json_counts_days_rates_votes_and_top_questions(filled, capsys):
    report = _json(capsys, ["stats", "--json"])
    assert report["questions"] == len(LOG) and report["answered"] == 5
    assert report["answered_rate"] == pytest.approx(5 / 11)
    assert (report["thumbs_up"], report["thumbs_down"]) == (3, 1)
    assert report["thumbs_up_ratio"] == pytest.approx(0.75) and report["users"] == 3
    per_day = {d["day"]: d for d in report["per_day"]}
    assert sum(d["questions"] for d in per_day.values()) == len(LOG)
    today = per_day[TODAY.isoformat()]
    assert (today["questions"], today["answered"], today["thumbs_up"], today["thumbs_down"]) == (6, 3, 2, 1)
    assert list(per_day) == sorted(per_day)
    top = report["top_questions"][0]
    # With and without diacritics, the same question counts together under its most frequent wording.
    assert (top["text"], top["count"], top["answered"]) == ("Kiểm soát tài liệu như thế nào?", 3, 3)


def test_stats_since_leaves_out_older_days_and_writes_csv(filled, capsys, tmp_path):
    out_csv = tmp_path / "stats.csv"
    report = _json(capsys, ["stats", "--since", LAST_WEEK.isoformat(), "--json", "--csv", str(out_csv)])
    assert report["since"] == LAST_WEEK.isoformat() and report["questions"] == len(LOG) - 1
    with out_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["day"] for r in rows] == [d["day"] for d in report["per_day"]]
    assert sum(int(r["questions"]) for r in rows) == len(LOG) - 1
    today = next(r for r in rows if r["day"] == TODAY.isoformat())
    assert today["answered_rate"] == f"{3 / 6:.3f}"
    # The Vietnamese date habit works too.
    assert _json(capsys, ["stats", "--since", LAST_WEEK.strftime("%d/%m/%Y"), "--json"])["questions"] == len(LOG) - 1


def test_stats_text_report_in_vietnamese(filled, capsys):
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "Câu hỏi: 11 — đã trả lời: 5 (45,5%)" in out
    assert "👍 3 / 👎 1 (75,0% hài lòng)" in out
    assert "3 × Kiểm soát tài liệu như thế nào?" in out


def test_bad_since_date_is_one_line_and_exit_2(filled, capsys):
    assert main(["stats", "--since", "2026-02-30"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2026-02-30" in err


def test_unanswered_groups_similar_wording_biggest_first(filled, capsys):
    report = _json(capsys, ["unanswered", "--json"])
    groups = report["groups"]
    labels = [g["label"] for g in groups]
    assert labels[:2] == ["Giá vàng hôm nay bao nhiêu?", "Thủ tục cấp giấy phép xây dựng mất bao lâu"]
    gold, permit = groups[0], groups[1]
    assert (gold["count"], gold["declined"], gold["disliked"]) == (3, 3, 0)
    assert set(gold["examples"]) == {"Giá vàng hôm nay bao nhiêu?", "gia vang hom nay bao nhieu", "giá vàng hôm nay"}
    assert permit["count"] == 2
    disliked = next(g for g in groups if g["label"].startswith("Điều 7.1.6"))
    assert (disliked["count"], disliked["declined"], disliked["disliked"]) == (1, 0, 1)
    # Answered and liked (or not voted) questions are not in the report; every listed id appears once.
    assert not any("Kiểm soát tài liệu" in g["label"] or "Đánh giá nội bộ" in g["label"] for g in groups)
    ids = [i for g in groups for i in g["question_ids"]]
    assert len(ids) == len(set(ids)) == 3 + 2 + 1 + 1

    recent = _json(capsys, ["unanswered", "--since", LAST_WEEK.isoformat(), "--json"])
    assert "Lịch họp giao ban tuần sau" not in [g["label"] for g in recent["groups"]]


def test_unanswered_text_report(filled, capsys):
    assert main(["unanswered"]) == 0
    out = capsys.readouterr().out
    assert "1. Giá vàng hôm nay bao nhiêu?\n   3 lần (từ chối: 3, 👎: 0)" in out
    assert "   – gia vang hom nay bao nhieu" in out
    assert "isobot reindex" in out


def test_reports_on_an_empty_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(tmp_path))
    assert main(["stats"]) == 0
    assert "Chưa có câu hỏi nào" in capsys.readouterr().out
    assert main(["unanswered"]) == 0
    assert "Không có câu hỏi nào" in capsys.readouterr().out
    assert _json(capsys, ["stats", "--json"])["answered_rate"] is None


def test_users_commands(db_url, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADMIN_IDS", "777")
    assert main(["users", "add", "123456789", "--name", "Nguyễn Văn A"]) == 0
    assert main(["users", "add", "-1009876543210", "--name", "Tổ ISO"]) == 0
    assert main(["users", "promote", "222"]) == 0
    assert main(["users", "remove", "333"]) == 0
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip() and line.split()[0].lstrip("-").isdigit()}
    assert "được phép" in lines["123456789"] and "Nguyễn Văn A" in lines["123456789"]
    assert "quản trị" in lines["222"] and "bị chặn" in lines["333"]
    assert "được phép" in lines["-1009876543210"] and "Tổ ISO" in lines["-1009876543210"]
    assert "777" in out  # ADMIN_IDS from the configuration are shown

    db = Database.from_url(db_url)
    try:
        assert db.is_allowed(user_id=123456789) and not db.is_allowed(user_id=333)
        assert db.is_allowed(user_id=1, chat_id=-1009876543210) and db.user_role(222) == "admin"
    finally:
        db.close()
    assert main(["users", "add"]) == 2
    assert main(["users", "promote", "-100"]) == 2


def test_purge_uses_the_retention_setting(filled, monkeypatch, capsys):
    monkeypatch.setenv("QUESTION_RETENTION_DAYS", "5")
    assert main(["purge"]) == 0
    assert "Đã xoá 1 câu hỏi" in capsys.readouterr().out  # only the 10-day-old one
    assert main(["purge", "--days", "1"]) == 0
    assert "Đã xoá 4 câu hỏi" in capsys.readouterr().out  # 1- and 2-day-old ones
    assert _json(capsys, ["stats", "--json"])["questions"] == 6


def test_question_text_never_reaches_the_logs_at_info(db_url, caplog):  # noqa: F811
    secret = "Hồ sơ của ông Nguyễn Văn Riêng số 0912345678"
    db = Database.from_url(db_url)
    try:
        with caplog.at_level(logging.INFO):
            db.upgrade()
            qid = db.log_question(9, 9, secret, secret.lower(), False, [], 3.0, "telegram")
            db.record_feedback(qid, 9, -1, secret)
            db.record_feedback(qid + 99, 9, -1, secret)
            db.stats()
            db.unanswered()
            db.purge_questions(0)
    finally:
        db.close()
    assert "0912345678" not in caplog.text and "Riêng" not in caplog.text


@pytest.fixture
def vietnam_time(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Ho_Chi_Minh")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_days_are_the_servers_local_days(db_url, vietnam_time):  # noqa: F811
    """A question typed at 03:30 in Hà Nội (20:30 UTC the day before) counts on the Hà Nội day."""
    db = Database.from_url(db_url)
    try:
        db.upgrade()
        for stored in (datetime(2026, 3, 1, 20, 30), datetime(2026, 3, 1, 16, 59)):
            qid = db.log_question(1, 1, "giá vàng", "giá vàng", False, [], 1.0, "telegram")
            with db.engine.begin() as conn:
                conn.execute(update(Question).where(Question.id == qid).values(created_at=stored))
        assert [(d.day, d.questions) for d in db.stats().per_day] == [(date(2026, 3, 1), 1), (date(2026, 3, 2), 1)]
        assert db.stats(since=date(2026, 3, 2)).questions == 1
        assert db.stats(since=date(2026, 3, 3)).questions == 0
        [group] = db.unanswered()
        assert group.last_asked == datetime(2026, 3, 2, 3, 30)
    finally:
        db.close()


# -- grouping -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Q:
    id: int
    text: str
    normalized_text: str = ""
    answered: bool = False
    disliked: bool = False
    created_at: datetime = datetime(2026, 1, 1)


def test_fold_and_content_words():
    assert fold("Điều 7.5.3: Kiểm SOÁT tài liệu?") == "dieu 7.5.3 kiem soat tai lieu"
    assert content_words("kiểm soát tài liệu như thế nào ạ?") == content_words("kiem soat tai lieu ntn")
    assert "7.5.3" in content_words("điều 7.5.3 là gì")


def test_unrelated_questions_stay_apart():
    groups = cluster_questions([Q(1, "giá vàng hôm nay"), Q(2, "thủ tục cấp giấy phép xây dựng"),
                                Q(3, "điều 9.2 đánh giá nội bộ"), Q(4, "điều 9.3 xem xét của lãnh đạo")])
    assert [g.count for g in groups] == [1, 1, 1, 1]


@hyp_settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạ .?0123456789", max_size=40), max_size=25))
def test_grouping_is_a_partition(texts):
    rows = [Q(i, t, created_at=datetime(2026, 1, 1) + timedelta(minutes=i)) for i, t in enumerate(texts)]
    groups = cluster_questions(rows)
    ids = sorted(i for g in groups for i in g.question_ids)
    assert ids == list(range(len(texts)))
    assert sum(g.count for g in groups) == len(texts)
    assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)


# -- on a database filled by the real bot ---------------------------------------------------------


def test_reports_on_a_database_filled_by_the_bot(bot, user_factory, monkeypatch, capsys):
    """Questions asked and votes cast through Telegram (emulated over HTTP) show up in the reports."""
    from bot.messages import BUTTON_DISLIKE, BUTTON_LIKE

    monkeypatch.setenv("DATABASE_URL", bot.settings.effective_database_url)
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(bot.settings.data_dir))
    before = _json(capsys, ["stats", "--json"])

    user = user_factory("Hạnh")
    chat = bot.emulator.private_chat(user)
    off_topic = ["giá xăng RON 95 hôm nay bao nhiêu tiền một lít", "gia xang ron 95 hom nay bao nhieu tien 1 lit"]
    on_topic = "hồ sơ đánh giá nội bộ cần lưu những gì?"
    answered = likes = dislikes = 0
    for text in off_topic + [on_topic]:
        _, (reply,) = bot.ask(user, chat, text)
        buttons = {b.get("text"): b.get("callback_data")
                   for row in (reply.params.get("reply_markup") or {}).get("inline_keyboard", []) for b in row}
        if BUTTON_DISLIKE not in buttons:
            continue  # declined: no passages to vote on
        answered += 1
        # The user votes 👎 on whatever the bot said about fuel prices, 👍 on the audit answer.
        vote = buttons[BUTTON_LIKE] if text == on_topic else buttons[BUTTON_DISLIKE]
        bot.press(user, reply.response["result"], vote)
        likes, dislikes = likes + (text == on_topic), dislikes + (text != on_topic)

    after = _json(capsys, ["stats", "--json"])
    assert after["questions"] - before["questions"] == 3
    assert after["answered"] - before["answered"] == answered
    assert (after["thumbs_up"] - before["thumbs_up"], after["thumbs_down"] - before["thumbs_down"]) == (likes, dislikes)
    assert after["users"] - before["users"] == 1

    groups = _json(capsys, ["unanswered", "--json"])["groups"]
    fuel = [g for g in groups if set(off_topic) & set(g["examples"])]
    # Both wordings (with and without diacritics) land in one group, declined or disliked.
    assert len(fuel) == 1 and set(off_topic) <= set(fuel[0]["examples"])
    assert fuel[0]["count"] >= 2 and fuel[0]["declined"] + fuel[0]["disliked"] >= 2
    assert not any(on_topic in g["examples"] for g in groups) or likes == 0
