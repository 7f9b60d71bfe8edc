"""Webhook mode: the bot registers its URL and secret; updates arrive by POST; a wrong secret is refused."""
from __future__ import annotations

import httpx


def test_webhook_registration_delivery_and_secret(webhook_bot, user_factory):
    bot = webhook_bot
    registered = bot.emulator.calls(method="setWebhook")[-1].params
    assert registered["url"] == bot.settings.webhook_url
    assert registered["secret_token"] == bot.settings.webhook_secret.get_secret_value()
    assert not bot.emulator.calls(method="getUpdates")  # no polling alongside the webhook

    user = user_factory()
    chat = bot.emulator.private_chat(user)
    _, (reply,) = bot.ask(user, chat, "xem xét của lãnh đạo gồm những gì")
    assert "Điều 9.3" in reply.text
    assert bot.emulator.webhook_deliveries[-1][1] == 200

    # Someone who does not know the secret cannot inject updates.
    forged = {"update_id": 999999, "message": {"message_id": 1, "date": 0, "chat": chat, "from": user, "text": "/stats"}}
    url = bot.settings.webhook_url
    response = httpx.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
    assert response.status_code == 403
    response = httpx.post(url, json=forged)
    assert response.status_code == 403
