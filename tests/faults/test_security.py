"""Security checks, end to end: strangers learn nothing, admin commands stay with admins, the token
never reaches logs or replies, and the webhook only takes updates that carry the secret."""
from __future__ import annotations

import json
import logging
import re
import socket

import httpx
import pytest
from tests.bot.emulator import BotAPIEmulator, parse_html

from tests.bot import conftest as e2e
from bot import messages as msg
from bot.flood import FloodGuard
from retrieval.index import IndexBundle

EVAL_QUESTIONS = [
    "Điều 7.5.3 yêu cầu gì về kiểm soát thông tin dạng văn bản?",
    "danh gia noi bo bao lau mot lan",
    "quy trình kiểm soát tài liệu gồm những bước nào",
    "bản 2015 còn yêu cầu sổ tay chất lượng không",
    "điều 4.2.3 bản 2008 nay là điều nào",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _corpus_fragments(searcher) -> set[str]:
    """Every sentence of 25+ characters in the live bundle, and every citation: what must not leak."""
    bundle = IndexBundle.load(searcher.bundle_path)
    fragments = set()
    for passage in bundle.passages:
        fragments.add(passage.citation)
        for sentence in re.split(r"(?<=[.!?:;])\s+|\n+", passage.text):
            sentence = sentence.strip()
            if len(sentence) >= 25:
                fragments.add(sentence)
    return fragments


def _leaks(texts: list[str], fragments: set[str]) -> list[str]:
    joined = "\n".join(texts)
    return sorted(f for f in fragments if f in joined)


def _outputs_to(bot, mark: int, chat_id: int, user_id: int) -> list[str]:
    """Everything the bot said to this person after mark: messages, edits, toasts, inline results."""
    texts = []
    for call in bot.emulator.calls(mark):
        p = call.params
        if call.method in ("sendMessage", "editMessageText") and p.get("chat_id") == chat_id:
            texts.append(parse_html(p["text"])[0] if p.get("parse_mode") == "HTML" else p["text"])
        elif call.method == "answerCallbackQuery" and str(p.get("callback_query_id", "")).endswith(str(user_id)):
            texts.append(p.get("text") or "")
        elif call.method == "answerInlineQuery" and str(p.get("inline_query_id", "")).endswith(str(user_id)):
            texts.append(json.dumps(p.get("results"), ensure_ascii=False))
    return texts


def test_a_stranger_learns_nothing_from_the_corpus(make_bot, real_searcher, user_factory):
    bot = make_bot("lockdown", ACCESS_MODE="allowlist", flood=FloodGuard(limit=1000))
    fragments = _corpus_fragments(real_searcher)
    assert len(fragments) > 200

    # A colleague on the allowlist gets real answers, with real buttons the stranger will replay.
    colleague = user_factory("Đồng nghiệp")
    bot.database.allow(colleague["id"], "Đồng nghiệp")
    colleague_chat = bot.emulator.private_chat(colleague)
    _, (answer,) = bot.ask(colleague, colleague_chat, EVAL_QUESTIONS[0])
    assert _leaks([parse_html(answer.text)[0]], fragments), "the control answer should quote the corpus"
    buttons = [b["callback_data"] for row in answer.params["reply_markup"]["inline_keyboard"] for b in row]
    _, (faq_page,) = bot.ask(colleague, colleague_chat, "/faq")
    buttons += [b["callback_data"] for row in faq_page.params["reply_markup"]["inline_keyboard"] for b in row]
    _, (procedures,) = bot.ask(colleague, colleague_chat, "/quytrinh")
    buttons += [b["callback_data"] for row in (procedures.params.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row]
    assert any(b.startswith("full|") for b in buttons) and any(b.startswith("more|") for b in buttons)

    stranger = user_factory("Người lạ")
    chat = bot.emulator.private_chat(stranger)
    mark = bot.emulator.mark()
    commands = ["/start", "/start dieu_7_5_3", "/start faq", "/start quytrinh", "/help", "/dieu 7.5.3",
                "/dieu 4.2.3 2008", "/faq", "/quytrinh", "/stats", "/reindex", f"/allow {stranger['id']}"]
    for text in EVAL_QUESTIONS + commands:
        bot.ask(stranger, chat, text)
    # Buttons replayed on the colleague's answer message (a forged client can send any data).
    for data in buttons:
        bot.press(stranger, answer.response["result"], data)
    # Inline mode and a group the stranger is in.
    for text in EVAL_QUESTIONS[:3]:
        qid = bot.emulator.inline(stranger, text)
        bot.emulator.wait_for(lambda c, q=qid: c.method == "answerInlineQuery" and c.params["inline_query_id"] == q, mark)
    group = bot.emulator.group_chat(-1009100000001, "Nhóm lạ")
    _, (group_reply,) = bot.ask(stranger, group, f"@{bot.emulator.username} {EVAL_QUESTIONS[1]}")

    said = _outputs_to(bot, mark, chat["id"], stranger["id"]) + [parse_html(group_reply.text)[0]]
    assert len(said) >= len(EVAL_QUESTIONS + commands) + len(buttons)
    assert not _leaks(said, fragments)
    assert not any("Điều 7.5" in t or "QT-0" in t for t in said)
    # Every refusal tells the stranger their id, so an admin can add them.
    private = [t for t in _outputs_to(bot, mark, chat["id"], stranger["id"])]
    assert all(str(stranger["id"]) in t for t in private[: len(EVAL_QUESTIONS)])
    # Nothing was edited or sent to the colleague's chat by the stranger's presses.
    assert not [c for c in bot.emulator.calls(mark) if c.params.get("chat_id") == colleague_chat["id"]]
    assert bot.database.user_status(stranger["id"]) != "active"
    assert not [c for c in bot.emulator.errors(mark) if c.method != "setMyCommands"]


def test_admin_commands_are_refused_to_everyone_else(make_bot, user_factory):
    bot = make_bot("adminonly", ACCESS_MODE="allowlist", flood=FloodGuard(limit=1000))
    member = user_factory("Thành viên")
    bot.database.allow(member["id"], "Thành viên")
    chat = bot.emulator.private_chat(member)
    victim = user_factory("Bị chặn")
    bot.database.allow(victim["id"], "Bị chặn")
    builds_before = sorted(p.name for p in bot.settings.index_dir.glob("*")) if bot.settings.index_dir.exists() else []

    mark = bot.emulator.mark()
    for command in ("/reindex", "/stats", "/stats 2020-01-01", "/allow 999999991", f"/deny {victim['id']}",
                    "/allow -1009100000002", "/reindex@isobot_test_bot"):
        _, (reply,) = bot.ask(member, chat, command)
        assert parse_html(reply.text)[0] == msg.ADMIN_ONLY, command
    # Pretending to be the admin by name (not id) changes nothing; in a group, too.
    impostor = BotAPIEmulator.user(member["id"], "Quản trị", username="quantri")
    _, (reply,) = bot.ask(impostor, chat, f"/deny {victim['id']}")
    assert parse_html(reply.text)[0] == msg.ADMIN_ONLY
    group = bot.emulator.group_chat(-1009100000003)
    bot.database.allow(-1009100000003, "Tổ ISO")
    _, (reply,) = bot.ask(member, group, "/stats")
    assert parse_html(reply.text)[0] == msg.ADMIN_ONLY

    assert bot.database.user_status(victim["id"]) == "active"
    assert bot.database.user_status(999999991) is None
    assert not bot.database.is_allowed(chat_id=-1009100000002)
    assert not [c for c in bot.emulator.calls(mark, "sendMessage") if msg.REINDEX_STARTED in c.text]
    builds_after = sorted(p.name for p in bot.settings.index_dir.glob("*")) if bot.settings.index_dir.exists() else []
    assert builds_after == builds_before

    # The real admin can (the refusals above are about who asks, not a broken command).
    admin = BotAPIEmulator.user(e2e.ADMIN_ID, "Quản trị")
    _, (reply,) = bot.ask(admin, bot.emulator.private_chat(admin), f"/deny {victim['id']}")
    assert str(victim["id"]) in reply.text and bot.database.user_status(victim["id"]) == "blocked"


def test_token_never_in_logs_or_replies(make_bot, user_factory, caplog):
    caplog.set_level(logging.DEBUG)
    bot = make_bot("tokenlog", ACCESS_MODE="open")
    token = bot.settings.token
    secret_part = token.split(":", 1)[1]
    user = user_factory()
    chat = bot.emulator.private_chat(user)

    # Ordinary traffic, Telegram errors of every kind, and a refused admin command.
    bot.ask(user, chat, "đánh giá nội bộ")
    bot.emulator.fail("sendMessage", status=429, retry_after=1)
    bot.ask(user, chat, "kiểm soát tài liệu")
    bot.emulator.fail("sendMessage", status=500, times=2)
    mark = bot.emulator.mark()
    bot.emulator.send_text(user, chat, "hồ sơ lưu bao lâu")
    bot.emulator.wait_for(lambda c: c.method == "sendMessage" and c.status == 500, mark, count=2)
    bot.emulator.fail("getUpdates", status=500, times=2)
    bot.ask(user, chat, "/reindex")
    bot.emulator.delay("sendMessage", 8, chat_id=chat["id"])  # past the 5 s read timeout
    mark = bot.emulator.mark()
    bot.emulator.send_text(user, chat, "rủi ro và cơ hội")
    bot.emulator.wait_reply(chat["id"], mark, timeout=60)
    bot.emulator.delay("sendMessage", 0, chat_id=chat["id"])

    debug_lines = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug_lines, "DEBUG logging was not captured"
    assert "NetworkError" in caplog.text or "TimedOut" in caplog.text  # the errors were logged ...
    assert token not in caplog.text and secret_part not in caplog.text  # ... without the token
    for record in caplog.records:
        assert secret_part not in record.getMessage()
    replies = [c.text for c in bot.emulator.calls(0, "sendMessage")]
    assert replies and not any(secret_part in t for t in replies)


def _post(url: str, payload: dict, headers: dict | None = None) -> int:
    return httpx.post(url, json=payload, headers=headers or {}, timeout=10).status_code


@pytest.mark.parametrize("configured_secret", ["s3cret-Header_value", None])
def test_webhook_rejects_updates_without_the_secret(make_bot, user_factory, configured_secret):
    port = _free_port()
    env = dict(WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram-hook", WEBHOOK_LISTEN="127.0.0.1",
               WEBHOOK_PORT=str(port))
    if configured_secret:
        env["WEBHOOK_SECRET"] = configured_secret
    bot = make_bot("hooksec", ACCESS_MODE="open", **env)
    registered = bot.emulator.calls(method="setWebhook")[-1].params
    secret = registered.get("secret_token")
    # Without WEBHOOK_SECRET the bot still registers a secret of its own; it never runs unchecked.
    assert secret and (configured_secret is None or secret == configured_secret)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)

    admin = BotAPIEmulator.user(e2e.ADMIN_ID, "Quản trị")
    chat = bot.emulator.private_chat(admin)
    url = bot.settings.webhook_url
    mark = bot.emulator.mark()
    forged = {"update_id": 900001, "message": {"message_id": 1, "date": 0, "chat": chat, "from": admin,
                                               "text": "/allow 123", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
    assert _post(url, forged) == 403
    assert _post(url, forged, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}) == 403
    assert _post(url, forged, {"X-Telegram-Bot-Api-Secret-Token": secret + "x"}) == 403
    assert _post(url.replace("/telegram-hook", "/other"), forged, {"X-Telegram-Bot-Api-Secret-Token": secret}) == 404
    assert httpx.get(url, timeout=10).status_code in (403, 405)
    assert not bot.emulator.quiet(2, lambda c: c.method == "sendMessage", mark)
    assert bot.database.user_status(123) is None

    # The same update with the secret is taken (so the refusals above were about the secret).
    user = user_factory()
    _, (reply,) = bot.ask(user, bot.emulator.private_chat(user), "xem xét của lãnh đạo")
    assert "Điều 9.3" in reply.text
