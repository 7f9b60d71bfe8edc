#!/usr/bin/env python
"""Load test: the real bot (the Application `isobot run` builds) against the Bot API emulator.

N chats ask M questions each from tests/eval/questions.jsonl, all chats at once, each chat
waiting for its reply (plus an optional think time) before asking the next question, as a person
would. The bot runs in its own process, long polling the emulator over real HTTP on 127.0.0.1,
with the index of the data folder (ISOBOT_DATA_DIR, default var/) and a throwaway SQLite log.

    .venv/bin/python scripts/bench_bot.py                       # 50 chats x 20 questions
    .venv/bin/python scripts/bench_bot.py --chats 50 --questions 6 --think 10   # people read replies
    .venv/bin/python scripts/bench_bot.py --chats 5 --questions 4 --json

Prints messages sent / answered / lost, reply latency p50/p95/p99 (user's message queued at the
emulator -> first reply chunk accepted by it), throughput, the bot process's peak RSS, and errors
(requests Telegram would refuse, error lines in the bot's log, questions missing from its log).
Exit code 0 only when nothing was lost and there were no errors.

The per-user flood guard (8 messages per 20 s) would rightly silence a chat that asks 20
questions back to back; the bot process here gets a guard wide enough for the run, so the
benchmark measures answering, not rate limiting.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


QUESTIONS_FILE = REPO_ROOT / "tests" / "eval" / "questions.jsonl"
BENCH_TOKEN = "424242:AAE-bench-token-not-secret"
FIRST_USER_ID = 5_000_001
# After the first chunk of a reply without buttons, wait this long for further chunks so they are
# not mistaken for the reply to the next question (answers with buttons end with the buttons).
CHUNK_SETTLE_SECONDS = 0.25
# The eval set has fewer questions than a default run asks; a repeat gets a lead-in people type, so
# every message is a distinct text and no cache (query vectors, answers) can make the run look fast.
LEAD_INS = ["", "Cho em hỏi ", "Xin hỏi: ", "Anh/chị cho hỏi ", "Hỏi nhanh: ", "Nhờ trả lời giúp: ",
            "Mình muốn biết ", "Em hỏi chút: "]


def load_questions(path: Path) -> list[str]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            questions.append(json.loads(line)["question"])
    return questions


def wording(questions: list[str], n: int) -> str:
    """The n-th message of a run: the eval questions in order, then again with lead-ins."""
    return LEAD_INS[(n // len(questions)) % len(LEAD_INS)] + questions[n % len(questions)]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a latency some request really had)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------- the bot process
def serve(flood_limit: int) -> int:
    """Run the bot from the environment's settings, as `isobot run` does, with a wide flood guard."""
    import logging

    from bot.app import build_application, run_application
    from bot.database import Database
    from bot.flood import FloodGuard
    from retrieval.settings import load_settings

    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    database = Database.from_settings(settings)
    database.upgrade()
    application = build_application(settings, database=database, flood=FloodGuard(limit=flood_limit))
    # Load the index and the model before the first question, as a warmed-up production bot would be.
    application.bot_data["services"].answerer.answer("khởi động", user_id=None, chat_id=None, source="warmup")
    run_application(application, settings)
    return 0


# ----------------------------------------------------------------------------- the clients
class ChatClient(threading.Thread):
    """One person in a private chat asking their questions one after another."""

    def __init__(self, emulator, index: int, questions: list[str], timeout: float, think: float, delay: float = 0.0):
        super().__init__(name=f"chat-{index}", daemon=True)
        self.emulator = emulator
        self.user = emulator.user(FIRST_USER_ID + index, f"Người dùng {index}")
        self.chat = emulator.private_chat(self.user)
        self.questions = questions
        self.timeout = timeout
        self.think = think
        self.delay = delay
        self.latencies: list[float] = []
        self.lost: list[str] = []
        self.cited = 0

    def run(self) -> None:
        chat_id = self.chat["id"]
        time.sleep(self.delay)
        for question in self.questions:
            mark = self.emulator.mark()
            sent_at = time.monotonic()
            self.emulator.send_text(self.user, self.chat, question)
            try:
                first = self.emulator.wait_reply(chat_id, mark, timeout=self.timeout)[0]
            except AssertionError:
                self.lost.append(question)
                continue
            self.latencies.append(first.at - sent_at)
            if "<b>" in first.text:
                self.cited += 1
            self._wait_for_last_chunk(chat_id, first)
            if self.think:
                time.sleep(self.think)

    def _wait_for_last_chunk(self, chat_id: int, first) -> None:
        last = first
        while not last.params.get("reply_markup"):
            later = [c for c in self.emulator.calls(last.seq, "sendMessage") if c.chat_id == chat_id]
            if later:
                last = later[-1]
                continue
            time.sleep(CHUNK_SETTLE_SECONDS)
            if not [c for c in self.emulator.calls(last.seq, "sendMessage") if c.chat_id == chat_id]:
                return


def count_logged_questions(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM questions WHERE source = 'telegram'")).scalar())
    finally:
        engine.dispose()


def run_bench(args) -> dict:
    from tests.bot.emulator import BotAPIEmulator

    from retrieval.index import current_bundle_path
    from retrieval.settings import load_settings

    settings = load_settings(**({"ISOBOT_DATA_DIR": args.data_dir} if args.data_dir else {}))
    if current_bundle_path(settings.index_dir) is None:
        raise SystemExit(f"bench_bot: no index bundle under {settings.index_dir}; run `isobot reindex` first")
    questions = load_questions(Path(args.questions_file))
    work = Path(tempfile.mkdtemp(prefix="isobot-bench-"))
    database_url = f"sqlite:///{work / 'bench.db'}"

    # Stopping the bot cuts its open long poll; the emulator's server would print that as an error.
    import logging

    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    emulator = BotAPIEmulator(token=BENCH_TOKEN, username="isobot_bench_bot").start()
    env = dict(os.environ)
    env.update(
        TELEGRAM_BOT_TOKEN=BENCH_TOKEN,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        ISOBOT_DATA_DIR=str(settings.data_dir.resolve()),
        DATABASE_URL=database_url,
        ACCESS_MODE="open",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=str(REPO_ROOT),
    )
    for name in ("WEBHOOK_URL", "WEBHOOK_SECRET"):
        env.pop(name, None)
    log_path = work / "bot.log"
    with open(log_path, "w", encoding="utf-8") as log_file:
        bot = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", "--flood-limit", str(args.questions + 5)],
            env=env, cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        started_wait = time.monotonic()
        while not emulator.calls(method="setMyCommands"):
            if bot.poll() is not None:
                raise SystemExit(f"bench_bot: the bot exited ({bot.returncode}); see {log_path}")
            if time.monotonic() - started_wait > 180:
                raise SystemExit(f"bench_bot: the bot did not start in 180 s; see {log_path}")
            time.sleep(0.2)
        startup_seconds = time.monotonic() - started_wait
        rss_idle = peak_rss_mb(bot.pid)

        mark = emulator.mark()
        clients = []
        for i in range(args.chats):
            mine = [wording(questions, i * args.questions + j) for j in range(args.questions)]
            # People do not all press "send" in the same instant: spread the first questions evenly.
            delay = args.ramp * i / args.chats
            clients.append(ChatClient(emulator, i, mine, args.timeout, args.think, delay))
        began = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        wall = time.monotonic() - began
        time.sleep(1.0)  # let stray late replies arrive, so duplicates are counted
        rss_peak = peak_rss_mb(bot.pid)
        calls = emulator.calls(mark)
    finally:
        if bot.poll() is None:
            bot.terminate()
            try:
                bot.wait(30)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait()
        emulator.stop()

    sent = args.chats * args.questions
    latencies = [x for c in clients for x in c.latencies]
    lost = sum(len(c.lost) for c in clients)
    replies_per_chat: dict[int, int] = {}
    for call in calls:
        if call.method == "sendMessage" and call.ok:
            replies_per_chat[call.chat_id] = replies_per_chat.get(call.chat_id, 0) + 1
    refused = [c for c in calls if c.status >= 400]
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    log_errors = [line for line in log_text.splitlines() if " ERROR " in line or line.startswith("Traceback")]
    logged = count_logged_questions(database_url)
    report = {
        "chats": args.chats,
        "questions_per_chat": args.questions,
        "think_seconds": args.think,
        "ramp_seconds": args.ramp,
        "sent": sent,
        "distinct_texts": len({q for c in clients for q in c.questions}),
        "answered": len(latencies),
        "answered_with_citations": sum(c.cited for c in clients),
        "lost": lost,
        "reply_messages": sum(replies_per_chat.values()),
        "latency_s": {
            "p50": round(percentile(latencies, 50), 3),
            "p95": round(percentile(latencies, 95), 3),
            "p99": round(percentile(latencies, 99), 3),
            "max": round(max(latencies), 3) if latencies else None,
            "mean": round(statistics.fmean(latencies), 3) if latencies else None,
        },
        "wall_seconds": round(wall, 1),
        "questions_per_second": round(len(latencies) / wall, 2) if wall else None,
        "bot_startup_seconds": round(startup_seconds, 1),
        "bot_peak_rss_mb": {"after_start": rss_idle and round(rss_idle), "end": rss_peak and round(rss_peak)},
        "errors": {
            "refused_requests": len(refused),
            "bot_log_errors": len(log_errors),
            "questions_logged": logged,
            "questions_not_logged": sent - logged,
        },
        "bot_log": str(log_path),
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    if refused:
        report["errors"]["refused_examples"] = [(c.method, c.status, c.response.get("description")) for c in refused[:5]]
    if log_errors:
        report["errors"]["log_examples"] = log_errors[:5]
    return report


def print_report(r: dict) -> None:
    lat = r["latency_s"]
    print(f"chats x questions     {r['chats']} x {r['questions_per_chat']} (think {r['think_seconds']} s, ramp {r['ramp_seconds']} s), "
          f"{r['cores']} cores, load average {', '.join(f'{x:.1f}' for x in r['load_average'])}")
    print(f"messages sent         {r['sent']} ({r['distinct_texts']} distinct texts)")
    print(f"answered              {r['answered']} ({r['answered_with_citations']} with citations)")
    print(f"lost                  {r['lost']}")
    print(f"reply messages        {r['reply_messages']}")
    print(f"reply latency (s)     p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}")
    print(f"throughput            {r['questions_per_second']} questions/s over {r['wall_seconds']} s")
    rss = r["bot_peak_rss_mb"]
    print(f"bot peak RSS (MB)     {rss['end']} (after start-up {rss['after_start']})")
    e = r["errors"]
    print(f"errors                refused requests {e['refused_requests']}, bot log errors {e['bot_log_errors']}, "
          f"questions not logged {e['questions_not_logged']}")
    for example in e.get("refused_examples", []) + e.get("log_examples", []):
        print(f"  {example}")
    print(f"bot log               {r['bot_log']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=50, help="concurrent private chats (default 50)")
    parser.add_argument("--questions", type=int, default=20, help="questions per chat (default 20)")
    parser.add_argument("--think", type=float, default=0.0, help="seconds a user reads before asking again (default 0)")
    parser.add_argument("--ramp", type=float, default=None,
                        help="spread the chats' first questions over this many seconds (default: the think time)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a question counts as lost")
    parser.add_argument("--data-dir", help="data folder with the index (default: ISOBOT_DATA_DIR or var/)")
    parser.add_argument("--questions-file", default=str(QUESTIONS_FILE))
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flood-limit", type=int, default=25, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.flood_limit)
    if args.ramp is None:
        args.ramp = args.think
    report = run_bench(args)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print_report(report)
    errors = report["errors"]
    clean = not report["lost"] and not errors["refused_requests"] and not errors["bot_log_errors"]
    return 0 if clean and not errors["questions_not_logged"] else 1


if __name__ == "__main__":
    sys.exit(main())
