"""Allowlist mode, admin commands and refusals, end to end."""
from __future__ import annotations

import logging
import re

from tests.bot.conftest import ADMIN_ID
from tests.bot.emulator import BotAPIEmulator, parse_html

CORPUS_WORDS = ("TCVN ISO 9001:2015 —", "Điều 7.5", "QT-01", "<b>")


def _no_corpus(text: str) -> bool:
    return not any(w in text for w in CORPUS_WORDS)


def test_allowlist_refuses_strangers_everywhere_without_leaking_content(allowlist_bot, user_factory, caplog):
    bot = allowlist_bot
    caplog.set_level(logging.INFO)
    stranger = user_factory("Khách")
    chat = bot.emulator.private_chat(stranger)
    secret_question = "kiểm soát tài liệu mật số 42"

    for text in (secret_question, "/dieu 7.5.3", "/faq", "/quytrinh", "/start dieu_7_5_3"):
        _, (reply,) = bot.ask(stranger, chat, text)
        plain, _ = parse_html(reply.text)
        assert "chưa được cấp quyền" in plain and str(stranger["id"]) in plain
        assert _no_corpus(reply.text), text

    # Buttons copied from elsewhere: a toast, nothing sent.
    fake = {"message_id": 1, "chat": chat, "from": {"id": bot.emulator.bot_id}, "date": 0, "text": "x"}
    mark, toast = bot.press(stranger, fake, "full|tcvn-iso-9001-2015#7.5.3")
    assert "chưa được cấp quyền" in toast.params["text"]
    assert not bot.emulator.quiet(1, lambda c: c.method == "sendMessage" and c.chat_id == chat["id"], mark)

    # Inline mode: one refusal article, no passages.
    mark = bot.emulator.mark()
    bot.emulator.inline(stranger, "kiểm soát tài liệu")
    call = bot.emulator.wait_for(lambda c: c.method == "answerInlineQuery", mark)[0]
    assert len(call.params["results"]) == 1
    assert _no_corpus(call.params["results"][0]["input_message_content"]["message_text"])

    # A group that is not on the list: refusal names the group id.
    group = bot.emulator.group_chat(-1009000000001)
    _, (reply,) = bot.ask(stranger, group, f"@{bot.emulator.username} đánh giá nội bộ")
    assert "-1009000000001" in reply.text and _no_corpus(reply.text)

    # Refusals are logged with ids, never with what was asked.
    assert f"user={stranger['id']}" in caplog.text
    assert secret_question not in caplog.text


def test_admin_allows_and_denies_users_and_groups(allowlist_bot, user_factory):
    bot = allowlist_bot
    admin = BotAPIEmulator.user(ADMIN_ID, "Quản trị")
    admin_chat = bot.emulator.private_chat(admin)
    newcomer = user_factory("Mai")
    chat = bot.emulator.private_chat(newcomer)

    _, (reply,) = bot.ask(newcomer, chat, "đánh giá nội bộ")
    assert "chưa được cấp quyền" in reply.text

    _, (reply,) = bot.ask(admin, admin_chat, f"/allow {newcomer['id']} Mai phòng Tư pháp")
    assert f"Đã cấp quyền cho {newcomer['id']}" in reply.text
    _, (reply,) = bot.ask(newcomer, chat, "đánh giá nội bộ")
    assert "Điều 9.2" in reply.text

    group = bot.emulator.group_chat(-1009000000002)
    colleague = user_factory("Tuấn")
    _, (reply,) = bot.ask(admin, admin_chat, "/allow -1009000000002")
    assert "Đã cấp quyền cho -1009000000002" in reply.text
    _, (reply,) = bot.ask(colleague, group, f"@{bot.emulator.username} đánh giá nội bộ")
    assert "Điều 9.2" in reply.text

    _, (reply,) = bot.ask(admin, admin_chat, f"/deny {newcomer['id']}")
    assert "Đã thu hồi quyền" in reply.text
    _, (reply,) = bot.ask(newcomer, chat, "đánh giá nội bộ")
    assert "chưa được cấp quyền" in reply.text and _no_corpus(reply.text)

    # A blocked user stays blocked inside an allowlisted group.
    _, (reply,) = bot.ask(admin, admin_chat, f"/deny {colleague['id']}")
    _, (reply,) = bot.ask(colleague, group, f"@{bot.emulator.username} đánh giá nội bộ")
    assert "chưa được cấp quyền" in reply.text and _no_corpus(reply.text)


def test_admin_commands_are_refused_to_others(bot, user_factory, caplog):
    caplog.set_level(logging.WARNING)
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    for command in ("/reindex", "/stats", f"/allow {user['id']}", "/deny 1"):
        _, (reply,) = bot.ask(user, chat, command)
        assert reply.text == "Lệnh này chỉ dành cho quản trị viên.", command
    assert caplog.text.count(f"refused admin command") >= 4
    assert bot.database.user_status(user["id"]) != "active"


def test_admin_stats(bot, user_factory):
    admin = BotAPIEmulator.user(ADMIN_ID, "Quản trị")
    admin_chat = bot.emulator.private_chat(admin)

    def total_questions() -> int:
        _, (reply,) = bot.ask(admin, admin_chat, "/stats")
        plain, _ = parse_html(reply.text)
        assert plain.startswith("Thống kê sử dụng:")
        found = re.search(r"Tổng: (\d+) câu hỏi", plain)
        return int(found.group(1)) if found else 0

    before = total_questions()
    asker = user_factory()
    # A wording nobody else uses, asked more often than any other test repeats a question, so it
    # tops the list whatever ran before on the shared session bot.
    question = "hồ sơ cần lưu bao lâu (thống kê)"
    for _ in range(3):
        bot.ask(asker, bot.emulator.private_chat(asker), question)
    _, (reply,) = bot.ask(admin, admin_chat, "/stats")
    plain, _ = parse_html(reply.text)
    assert "câu hỏi, trả lời được" in plain and "Tổng:" in plain
    assert total_questions() >= before + 3
    assert question in plain