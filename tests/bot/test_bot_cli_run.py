"""`isobot run` as a user starts it: a separate process, long polling the emulator, stopped by Ctrl+C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.bot.conftest import REPO_ROOT
from tests.bot.emulator import BotAPIEmulator, parse_html

ISOBOT = Path(sys.executable).with_name("isobot")


def test_isobot_run_serves_the_emulator_and_stops_cleanly(built_index, tmp_path):
    emulator = BotAPIEmulator(token="555111:AAF-cli-run-secret", username="isobot_cli_bot").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_", "DATABASE_", "ISOBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=emulator.token, TELEGRAM_API_BASE_URL=emulator.base_url,
               ISOBOT_DATA_DIR=str(built_index.data_dir), ISOBOT_CORPUS_DIR=str(REPO_ROOT / "corpus"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}", HF_HUB_OFFLINE="1", LOG_LEVEL="DEBUG")
    process = subprocess.Popen([str(ISOBOT), "run"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=240)
        user = BotAPIEmulator.user(4242, "Thảo")
        chat = emulator.private_chat(user)
        mark = emulator.mark()
        emulator.send_text(user, chat, "/dieu 8.5.1")
        reply = emulator.wait_reply(chat["id"], mark, timeout=120)[0]
        assert parse_html(reply.text)[0].startswith("TCVN ISO 9001:2015 — Điều 8.5.1")
        mark = emulator.mark()
        emulator.send_text(user, chat, "hanh dong khac phuc")
        reply = emulator.wait_reply(chat["id"], mark, timeout=120)[0]
        assert "<b>" in reply.text
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        emulator.stop()
    assert process.returncode == 0, err[-2000:]
    # DEBUG logging of a whole session, yet the token never appears.
    assert "polling for updates" in err
    assert emulator.token not in err + out and emulator.token.split(":")[1] not in err + out
