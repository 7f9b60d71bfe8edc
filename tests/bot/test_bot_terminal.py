"""Terminal chat: `isobot run` without a token answers piped questions through the Telegram answering path."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from tests.bot.conftest import REPO_ROOT

from bot import messages
from bot.answering import Answerer
from bot.database import Database
from bot.terminal import chat
from retrieval.settings import load_settings

ISOBOT = Path(sys.executable).with_name("isobot")


def test_run_without_token_answers_piped_questions(built_index, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_", "DATABASE_", "ISOBOT_"))}
    env.update(ISOBOT_DATA_DIR=str(built_index.data_dir), ISOBOT_CORPUS_DIR=str(REPO_ROOT / "corpus"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'terminal.db'}", HF_HUB_OFFLINE="1")
    done = subprocess.run([str(ISOBOT), "run"], input="kiểm soát tài liệu\n\n<b>&\n", capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Bạn hỏi:" not in out  # piped: plain lines, no prompt
    assert "1. TCVN ISO 9001:2015 — Điều 7.5" in out
    assert "<b>" not in out.split("chưa tìm thấy")[0] and "&amp;" not in out
    assert messages.TERMINAL_NO_TOKEN in done.stderr
    logged = Database.from_url(env["DATABASE_URL"]).stats()
    assert logged.questions == 2


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_interactive_chat_prompts_and_matches_the_telegram_reply(real_searcher, tmp_path):
    settings = load_settings(ISOBOT_DATA_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}")
    database = Database.from_settings(settings)
    database.upgrade()
    answerer = Answerer(settings, database, searcher=real_searcher)
    out = io.StringIO()
    assert chat(answerer, _Tty("đánh giá nội bộ\n"), out) == 0
    text = out.getvalue()
    assert text.count("Bạn hỏi: ") == 2 and text.rstrip().endswith("Tạm biệt!")
    telegram = answerer.answer("đánh giá nội bộ", user_id=1, chat_id=1, source="telegram").reply
    from bot.replies import to_plain_text

    assert to_plain_text(telegram.chunks[0]) in text
