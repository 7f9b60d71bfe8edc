"""End to end over real HTTP: the real bot (polling) against the Bot API emulator, real index, real SQLite."""
from __future__ import annotations

import re

from tests.bot.emulator import parse_html

CLAUSE_LINK = re.compile(r"Điều 7\.5")


def _keyboard_data(call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


def test_start_registers_vietnamese_command_menu(bot):
    menu = bot.emulator.calls(method="setMyCommands")[0].params["commands"]
    names = {c["command"]: c["description"] for c in menu}
    assert {"start", "help", "dieu", "faq", "quytrinh"} <= names.keys()
    assert "điều" in names["dieu"].lower() and "quy trình" in names["quytrinh"].lower()


def test_start_and_help(bot, user_factory):
    user = user_factory("Hùng")
    chat = bot.emulator.private_chat(user)
    _, (reply,) = bot.ask(user, chat, "/start")
    assert reply.params["parse_mode"] == "HTML"
    assert "Xin chào Hùng" in reply.text and "/help" in reply.text
    _, (reply,) = bot.ask(user, chat, "/help")
    assert "/dieu 7.5.3" in reply.text and "/faq" in reply.text and "/quytrinh" in reply.text


def test_deep_link_opens_the_clause(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    _, (reply,) = bot.ask(user, chat, "/start dieu_7_5_3")
    plain, _ = parse_html(reply.text)
    assert "TCVN ISO 9001:2015 — Điều 7.5.3" in plain
    assert "Xin chào" not in plain
    _, (reply,) = bot.ask(user, chat, "/start dieu_4_2_3_2008")
    assert "Điều 4.2.3 của bản ISO 9001:2008 tương ứng với" in reply.text
    _, (reply,) = bot.ask(user, chat, "/start faq")
    assert "(trang 1/" in reply.text
    _, (reply,) = bot.ask(user, chat, "/start quytrinh")
    assert "QT-01 – Kiểm soát tài liệu" in reply.text


def test_question_shows_typing_then_cited_passages_with_highlight(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    mark = bot.emulator.mark()
    bot.emulator.send_text(user, chat, "kiểm soát thông tin dạng văn bản như thế nào?")
    reply = bot.emulator.wait_reply(chat["id"], mark)[0]
    typing = [c for c in bot.emulator.calls(mark, "sendChatAction") if c.chat_id == chat["id"]]
    assert typing and typing[0].params["action"] == "typing" and typing[0].seq < reply.seq
    text = reply.text
    assert re.search(r"1\. <b>[^<]*Điều 7\.5[.0-9]* [^<]*</b>", text), text
    assert "<u>" in text
    assert text.count("<b>") == 3  # three passages, each with its bold citation
    data = _keyboard_data(reply)
    assert any(d.startswith("more|") for d in data)
    assert any(d.startswith("full|") for d in data) and any(d.startswith("rel|") for d in data)
    assert sum(d.startswith("fb|") for d in data) == 2
    assert not bot.emulator.errors(mark)


def test_unanswerable_question_is_declined_honestly(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    for question in ("cách nấu phở bò ngon cho 10 người", "xyzzy qwerty plugh"):
        _, (reply,) = bot.ask(user, chat, question)
        plain, entities = parse_html(reply.text)
        assert "chưa tìm thấy" in plain, question
        assert "điều 7.5.3" in plain  # the tip on naming a clause
        assert not any(e["type"] == "b" for e in entities)  # no citation at all
        assert "TCVN ISO 9001:2015 —" not in plain
        assert reply.params.get("reply_markup") is None
    assert "Các chủ đề gần nhất:" in plain


def _buttons(message_result: dict) -> dict[str, str]:
    """Button label -> callback data of a message the bot sent."""
    rows = (message_result.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b.get("callback_data", "") for row in rows for b in row}


def test_answer_buttons_more_full_related_and_feedback(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    _, (answer,) = bot.ask(user, chat, "đánh giá nội bộ bao lâu một lần")
    sent = answer.response["result"]
    buttons = _buttons(sent)
    question_id = int(buttons["👍"].split("|")[1])

    # "Xem thêm kết quả": the old message loses its spent button, results 4-6 arrive as a new message.
    mark, toast = bot.press(user, sent, buttons["Xem thêm kết quả"])
    more = bot.emulator.wait_reply(chat["id"], mark)[0]
    assert "Các kết quả tiếp theo (từ 4 đến 6)" in more.text
    assert re.search(r"^4\. <b>", more.text, re.M)
    edit = bot.emulator.wait_for(lambda c: c.method == "editMessageReplyMarkup", mark)[0]
    assert edit.ok and edit.params["message_id"] == sent["message_id"]
    assert "Xem thêm kết quả" not in _buttons(bot.emulator.message(chat["id"], sent["message_id"]))

    # "Xem toàn văn": the whole clause or section, untrimmed, with its citation.
    full_label = next(label for label in buttons if label.startswith("Xem toàn văn"))
    mark, _ = bot.press(user, sent, buttons[full_label])
    full = bot.emulator.wait_reply(chat["id"], mark)[0]
    first_citation = re.search(r"1\. <b>([^<]+)</b>", answer.text).group(1)
    assert full.text.startswith(f"<b>{first_citation}</b>")
    assert "…" not in parse_html(full.text)[0].split("\n", 1)[1][:20]

    # "Điều khoản liên quan": a list of other cited passages, each a button.
    mark, _ = bot.press(user, sent, buttons["Điều khoản liên quan"])
    rel = bot.emulator.wait_reply(chat["id"], mark)[0]
    assert rel.text.startswith("Các điều khoản liên quan đến")
    assert rel.text.count("• <b>") >= 2
    assert all(d.startswith("full|") for d in _buttons(rel.response["result"]).values())

    # 👍 then 👎: a toast each time, the database keeps the last vote.
    _, toast = bot.press(user, sent, buttons["👍"])
    assert toast.params["text"].startswith("Cảm ơn")
    _, toast = bot.press(user, sent, buttons["👎"])
    assert "xem lại" in toast.params["text"]
    stats = bot.database.stats()
    assert stats.thumbs_down >= 1
    from sqlalchemy import select

    from bot.models import Feedback

    with bot.database.engine.connect() as conn:
        votes = conn.execute(select(Feedback.value).where(Feedback.question_id == question_id,
                                                          Feedback.user_id == user["id"])).scalars().all()
    assert votes == [-1]


def test_dieu_command_2015_and_2008(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    _, (reply,) = bot.ask(user, chat, "/dieu 7.5.3")
    plain, _ = parse_html(reply.text)
    assert plain.startswith("TCVN ISO 9001:2015 — Điều 7.5.3 Kiểm soát thông tin dạng văn bản")
    assert "7.5.3.2" in plain  # sub-clauses come with it

    _, (reply,) = bot.ask(user, chat, "/dieu 4.2.3 2008")
    plain, _ = parse_html(reply.text)
    assert "Điều 4.2.3 của bản ISO 9001:2008 tương ứng với" in plain
    assert "Điều 7.5.2" in plain and "Điều 7.5.3" in plain

    _, (reply,) = bot.ask(user, chat, "/dieu 12.9")
    assert "Không tìm thấy điều 12.9" in reply.text
    _, (reply,) = bot.ask(user, chat, "/dieu")
    assert "/dieu 7.5.3" in reply.text


def test_faq_browsing_with_pages(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    _, (reply,) = bot.ask(user, chat, "/faq")
    sent = reply.response["result"]
    assert "(trang 1/" in reply.text
    buttons = _buttons(sent)
    assert buttons["Trang sau ▶"] == "faq|1"

    mark, _ = bot.press(user, sent, "faq|1")
    edit = bot.emulator.wait_for(lambda c: c.method == "editMessageText", mark)[0]
    assert edit.ok and "(trang 2/" in edit.params["text"]
    page2 = bot.emulator.message(chat["id"], sent["message_id"])
    assert "◀ Trang trước" in _buttons(page2)

    entry_label, entry_data = next((k, v) for k, v in _buttons(page2).items() if v.startswith("full|"))
    mark, _ = bot.press(user, page2, entry_data)
    answer = bot.emulator.wait_reply(chat["id"], mark)[0]
    question = entry_label.split(". ", 1)[1].rstrip("…")
    assert question in parse_html(answer.text)[0]


def test_quytrinh_lists_current_procedures_only(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    _, (reply,) = bot.ask(user, chat, "/quytrinh")
    plain, _ = parse_html(reply.text)
    assert "QT-01 – Kiểm soát tài liệu (lần ban hành 03, hiệu lực 01/03/2024)" in plain
    assert "lần ban hành 02, hiệu lực 15/06/2019" not in plain  # the superseded QT-01
    assert plain.count("QT-01") == 1 and plain.count("QT-0") >= 8
    buttons = _buttons(reply.response["result"])
    mark, _ = bot.press(user, reply.response["result"], buttons["Xem quy trình QT-01"])
    whole = bot.emulator.wait_reply(chat["id"], mark)[0]
    assert whole.text.startswith("<b>QT-01 Kiểm soát tài liệu (lần ban hành 03")


def test_forged_or_malformed_buttons_get_a_toast_not_an_error(bot, user_factory):
    user = user_factory()
    chat = bot.emulator.private_chat(user)
    _, (answer,) = bot.ask(user, chat, "/faq")
    sent = answer.response["result"]
    start = bot.emulator.mark()
    for data in ("more|1|abc", "faq|x", "fb|5", "zzz", "full|no-such-doc#1", "more|999999999|3"):
        mark, toast = bot.press(user, sent, data)
        assert toast.ok
        followups = bot.emulator.quiet(0.5, lambda c: c.method == "sendMessage" and c.chat_id == chat["id"], mark)
        assert all("lỗi" not in c.text for c in followups), data
    assert not bot.emulator.errors(start)


def test_admins_get_their_commands_in_the_menu(bot):
    from tests.bot.conftest import ADMIN_ID

    scoped = [c for c in bot.emulator.calls(method="setMyCommands") if (c.params.get("scope") or {}).get("type") == "chat"]
    # Telegram does not know the admin's chat before they write, so the scoped call is refused; later starts succeed.
    assert scoped and scoped[0].params["scope"]["chat_id"] == ADMIN_ID
    assert {"reindex", "stats", "allow", "deny"} <= {c["command"] for c in scoped[0].params["commands"]}
