"""Groups (mention, reply, ignore, commands) and inline mode, end to end."""
from __future__ import annotations

import itertools

from tests.bot.emulator import parse_html

_GROUP_IDS = itertools.count(-1001000000100, -1)


def test_group_answers_only_when_addressed_and_threads_replies(bot, user_factory):
    user = user_factory("Minh")
    group = bot.emulator.group_chat(next(_GROUP_IDS))
    name = bot.emulator.username

    # Ordinary chatter between colleagues: the bot stays silent.
    mark = bot.emulator.mark()
    bot.emulator.send_text(user, group, "kiểm soát tài liệu thì ai làm nhỉ")
    bot.emulator.send_media(user, group, "sticker")
    assert not bot.emulator.quiet(3, lambda c: c.chat_id == group["id"] and c.method == "sendMessage", mark)

    # Mentioned: a cited answer, threaded to the question.
    question, (reply,) = bot.ask(user, group, f"@{name} kiểm soát tài liệu như thế nào?")
    assert reply.params["reply_parameters"]["message_id"] == question["message_id"]
    assert "<b>" in reply.text and "Điều 7.5" in reply.text

    # A reply to the bot's message counts as addressed, too.
    bot_message = reply.response["result"]
    question, (reply,) = bot.ask(user, group, "còn đánh giá nội bộ thì sao?", reply_to=bot_message)
    assert reply.params["reply_parameters"]["message_id"] == question["message_id"]
    assert "9.2" in reply.text

    # Commands work in groups, with or without the bot's name.
    question, (reply,) = bot.ask(user, group, f"/dieu@{name} 9.2")
    assert parse_html(reply.text)[0].startswith("TCVN ISO 9001:2015 — Điều 9.2")
    assert reply.params["reply_parameters"]["message_id"] == question["message_id"]

    # Only the name, no question: a hint rather than a search.
    _, (reply,) = bot.ask(user, group, f"@{name}")
    assert "gõ câu hỏi sau tên tôi" in reply.text


def test_inline_query_returns_cited_articles(bot, user_factory):
    user = user_factory()
    mark = bot.emulator.mark()
    qid = bot.emulator.inline(user, "hành động khắc phục")
    call = bot.emulator.wait_for(lambda c: c.method == "answerInlineQuery", mark)[0]
    assert call.ok and call.params["inline_query_id"] == qid
    results = call.params["results"]
    assert len(results) in range(1, 6)
    assert all(r["type"] == "article" for r in results)
    assert any("10.2" in r["title"] for r in results)
    first = results[0]
    plain, entities = parse_html(first["input_message_content"]["message_text"])
    assert plain.startswith(first["title"])  # the posted message starts with its citation
    assert entities[0]["type"] == "b" and first["description"]

    # Logged with its source so reports can tell inline use apart.
    from sqlalchemy import select

    from bot.models import Question

    with bot.database.engine.connect() as conn:
        sources = conn.execute(select(Question.source).where(Question.user_id == user["id"])).scalars().all()
    assert sources == ["inline"]
