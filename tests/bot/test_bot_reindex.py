"""/reindex from Telegram: the admin gets the summary and the bot answers from the new bundle at once."""
from __future__ import annotations

from tests.bot.conftest import ADMIN_ID, _make_harness, searcher_for

from retrieval.settings import load_settings
from tests.bot.emulator import BotAPIEmulator, parse_html

NEW_PROCEDURE = """\
---
id: qt-09-tiep-cong-dan
title: Tiếp công dân
kind: procedure
code: QT-09
version: "01"
effective_date: 2025-01-15
status: active
iso_refs: ["8.2.1"]
source: Quy trình thử nghiệm
---
## 1. Mục đích

Quy định cách bố trí lịch tiếp công dân định kỳ của chủ tịch ủy ban.

## 5. Trình tự thực hiện

### 5.1 Lập lịch tiếp công dân

Văn phòng lập lịch tiếp công dân hằng tháng và niêm yết tại trụ sở.
"""


def test_admin_reindex_reports_summary_and_hot_swaps(tmp_path_factory, tiny_corpus, model_data_dir, embedder,
                                                    user_factory):
    database_url = f"sqlite:///{model_data_dir / 'isobot.db'}"
    searcher = searcher_for(load_settings(ISOBOT_DATA_DIR=str(model_data_dir), ISOBOT_CORPUS_DIR=str(tiny_corpus),
                                          DATABASE_URL=database_url), embedder)
    bot = _make_harness(tmp_path_factory, searcher, "reindex", corpus_dir=tiny_corpus, data_dir=model_data_dir,
                        DATABASE_URL=database_url)
    try:
        user = user_factory()
        chat = bot.emulator.private_chat(user)
        _, (reply,) = bot.ask(user, chat, "/quytrinh")
        assert "QT-09" not in reply.text

        (tiny_corpus / "procedures" / "qt-09.md").write_text(NEW_PROCEDURE, encoding="utf-8")
        admin = BotAPIEmulator.user(ADMIN_ID, "Quản trị")
        admin_chat = bot.emulator.private_chat(admin)
        _, (started, done) = bot.ask(admin, admin_chat, "/reindex", count=2, timeout=180)
        assert "Đang cập nhật chỉ mục" in started.text
        plain, _ = parse_html(done.text)
        assert plain.startswith("Đã cập nhật chỉ mục")
        assert "Thêm: 1 – sửa: 0 – xoá: 0" in plain and "Tài liệu: 5" in plain

        # No restart: the next request already sees the new procedure.
        _, (reply,) = bot.ask(user, chat, "/quytrinh")
        assert "QT-09 – Tiếp công dân (lần ban hành 01, hiệu lực 15/01/2025)" in parse_html(reply.text)[0]
    finally:
        bot.stop()
        bot.emulator.stop()
