"""Whatever people send, the bot answers politely, and Telegram never rejects what it sends."""
from __future__ import annotations

import logging
import time

import pytest


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document"])
def test_media_gets_a_polite_text_only_note(bot, user_factory, kind):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    mark = bot.emulator.mark()
    bot.emulator.send_media(user, chat, kind)
    reply = bot.emulator.wait_reply(chat["id"], mark)[0]
    assert reply.ok and "chỉ đọc được tin nhắn chữ" in reply.text


WEIRD = {
    "10,000 characters": ("kiểm soát tài liệu " * 530)[:10_000],
    "only emoji": "😀🙏👍🇻🇳",
    "html": "<b>&",
    "html tags": "<script>alert('x')</script> kiểm soát & <i>tài liệu</i>",
    "markdown": "*đánh giá* _nội bộ_ `code` [link](http://x) ~~gạch~~",
    "whitespace": "   \u200b  ",
    "unknown command": "/xoa_het",
}


@pytest.mark.parametrize("name", list(WEIRD))
def test_weird_messages_get_a_polite_reply_and_no_parse_error(bot, user_factory, name):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    mark = bot.emulator.mark()
    _, (reply,) = bot.ask(user, chat, WEIRD[name])
    assert reply.ok, reply.response
    assert not bot.emulator.errors(mark)
    expected = {
        "10,000 characters": "dài quá",
        "only emoji": "chưa hiểu câu hỏi",
        "whitespace": "chưa hiểu câu hỏi",
        "unknown command": "/dieu 7.5.3",
    }.get(name)
    if expected:
        assert expected in reply.text
    else:
        assert "<b>" in reply.text or "chưa tìm thấy" in reply.text


def test_a_flood_gets_one_notice_not_a_thousand_replies(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    mark = bot.emulator.mark()
    for i in range(25):
        bot.emulator.send_text(user, chat, f"câu hỏi số {i} về đánh giá nội bộ")
    limit = bot.application.bot_data["services"].flood.limit
    bot.emulator.wait_reply(chat["id"], mark, count=limit + 1, timeout=120)
    time.sleep(3)
    replies = [c for c in bot.emulator.calls(mark, "sendMessage") if c.chat_id == chat["id"]]
    notices = [c for c in replies if "gửi nhanh quá" in c.text]
    assert len(notices) == 1
    assert len(replies) == limit + 1


def test_telegram_429_is_retried_and_500_is_survived(bot, user_factory, caplog):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    caplog.set_level(logging.DEBUG)
    bot.emulator.fail("sendMessage", status=429, retry_after=1)
    mark = bot.emulator.mark()
    bot.emulator.send_text(user, chat, "xem xét của lãnh đạo")
    failed, retried = bot.emulator.wait_reply(chat["id"], mark, count=2)
    assert failed.status == 429 and retried.ok and "<b>" in retried.text
    assert retried.at - failed.at >= 0.9  # waited for retry_after

    # A 500 means Telegram did not take the reply: it is sent once more, and only once.
    bot.emulator.fail("sendMessage", status=500)
    mark = bot.emulator.mark()
    bot.emulator.send_text(user, chat, "kiểm soát hồ sơ")
    failed, resent = bot.emulator.wait_reply(chat["id"], mark, count=2)
    assert failed.status == 500 and resent.ok and resent.text == failed.text
    assert not bot.emulator.quiet(2, lambda c: c.method == "sendMessage" and c.chat_id == chat["id"] and c.seq > resent.seq, mark)
    _, (reply,) = bot.ask(user, chat, "kiểm soát hồ sơ")
    assert reply.ok and "<b>" in reply.text

    assert bot.settings.token not in caplog.text
    assert bot.settings.token.split(":")[1] not in caplog.text


def test_a_slow_telegram_for_one_chat_does_not_block_others(bot, user_factory):
    slow_user, fast_user = user_factory(), user_factory()
    slow_chat, fast_chat = bot.emulator.private_chat(slow_user), bot.emulator.private_chat(fast_user)
    bot.emulator.delay("sendMessage", 6, chat_id=slow_chat["id"])
    try:
        mark = bot.emulator.mark()
        bot.emulator.send_text(slow_user, slow_chat, "quản lý rủi ro và cơ hội")
        time.sleep(0.5)
        bot.emulator.send_text(fast_user, fast_chat, "/dieu 9.2")
        fast = bot.emulator.wait_reply(fast_chat["id"], mark, timeout=30)[0]
        slow = bot.emulator.wait_reply(slow_chat["id"], mark, timeout=60)[0]
        assert fast.seq < slow.seq
    finally:
        bot.emulator.delay("sendMessage", 0, chat_id=slow_chat["id"])
