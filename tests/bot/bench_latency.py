#!/usr/bin/env python
"""Reply latency of the real bot through the Bot API emulator: one user, then many concurrent chats.

Latency = from the moment the user's message is queued at the emulator until the bot's answer
(sendMessage) has been accepted by it; it includes long polling, the flood/access checks, the
database writes, the search and the HTML rendering.

    .venv/bin/python tests/bot/bench_latency.py           # index under var/ (built if missing)
    .venv/bin/python tests/bot/bench_latency.py --chats 50 --json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "kiểm soát tài liệu như thế nào",
    "danh gia noi bo bao lau mot lan",
    "rủi ro và cơ hội cần xác định ra sao",
    "bản 2015 còn yêu cầu sổ tay chất lượng không",
    "xem xét của lãnh đạo gồm những nội dung gì",
    "hồ sơ lưu bao lâu",
    "hành động khắc phục khi có sự không phù hợp",
    "điều 8.5.1",
    "tiếp nhận hồ sơ tại bộ phận một cửa",
    "đo lường sự hài lòng của người dân",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 0.95), 1), "max_ms": round(max(values), 1)}


def one_user(harness, rounds: int) -> list[float]:
    from emulator import BotAPIEmulator

    user = BotAPIEmulator.user(5_000_001, "Bench")
    chat = harness.emulator.private_chat(user)
    flood = harness.application.bot_data["services"].flood
    latencies = []
    for i in range(rounds):
        question = QUESTIONS[i % len(QUESTIONS)]
        mark = harness.emulator.mark()
        sent = time.monotonic()
        harness.emulator.send_text(user, chat, question)
        reply = harness.emulator.wait_reply(chat["id"], mark, timeout=120)[0]
        latencies.append((reply.at - sent) * 1000)
        # A person reads the answer before asking again; stay under the flood limit.
        time.sleep(flood.window / flood.limit)
    return latencies


def concurrent_chats(harness, chats: int) -> list[float]:
    from emulator import BotAPIEmulator

    users = [BotAPIEmulator.user(6_000_000 + i, f"Bench {i}") for i in range(chats)]
    rooms = [harness.emulator.private_chat(u) for u in users]
    mark = harness.emulator.mark()
    sent: dict[int, float] = {}
    barrier = threading.Barrier(chats)

    def ask(i: int) -> None:
        barrier.wait()
        sent[rooms[i]["id"]] = time.monotonic()
        harness.emulator.send_text(users[i], rooms[i], QUESTIONS[i % len(QUESTIONS)])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(chats)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = set(sent)
    replies = harness.emulator.wait_for(lambda c: c.method == "sendMessage" and c.chat_id in ids, mark,
                                        timeout=600, count=chats)
    return [(c.at - sent[c.chat_id]) * 1000 for c in replies]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="questions asked one after another by one user")
    parser.add_argument("--chats", type=int, default=50, help="chats asking at the same moment")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from harness import BotHarness
    from emulator import BotAPIEmulator

    from bot.app import build_application
    from bot.database import Database
    from retrieval.search import Searcher
    from retrieval.settings import load_settings

    base = load_settings()
    t0 = time.perf_counter()
    searcher = Searcher.from_settings(base)
    load_s = time.perf_counter() - t0

    emulator = BotAPIEmulator(token="424242:BENCH-token", username="isobot_bench_bot").start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(TELEGRAM_BOT_TOKEN=emulator.token, TELEGRAM_API_BASE_URL=emulator.base_url,
                                 DATABASE_URL=f"sqlite:///{tmp}/bench.db", ACCESS_MODE="open")
        database = Database.from_settings(settings)
        database.upgrade()
        harness = BotHarness(emulator, settings, database, build_application(settings, database=database,
                                                                             searcher=searcher)).start()
        try:
            single = one_user(harness, args.rounds)
            crowd = concurrent_chats(harness, args.chats)
        finally:
            harness.stop()
            emulator.stop()

    report = {"searcher_load_s": round(load_s, 1), "one_user": summary(single),
              f"{args.chats}_concurrent_chats": summary(crowd), "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(f"searcher load: {report['searcher_load_s']} s ({report['cpus']} CPUs)")
        for name in ("one_user", f"{args.chats}_concurrent_chats"):
            r = report[name]
            print(f"{name:>22}: n={r['n']}  median {r['p50_ms']} ms  p95 {r['p95_ms']} ms  max {r['max_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
