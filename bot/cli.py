"""The `isobot` command line: a thin shell over the library calls."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from retrieval.settings import SettingsError, load_settings

# subcommand -> "module:function"; each function takes (args, settings) and returns an exit code.
COMMANDS = {
    "run": "bot.cli_bot:cmd_run",
    "chat": "bot.cli_bot:cmd_chat",
    "reindex": "bot.cli_reindex:cmd_reindex",
    "ask": "bot.cli_retrieval:cmd_ask",
    "eval": "bot.cli_retrieval:cmd_eval",
    "model": "bot.cli_model:cmd_model",
    "users": "bot.cli_admin:cmd_users",
    "stats": "bot.cli_admin:cmd_stats",
    "unanswered": "bot.cli_admin:cmd_unanswered",
    "purge": "bot.cli_admin:cmd_purge",
    "db": "bot.cli_admin:cmd_db",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isobot",
        description="isobot: answers questions on TCVN ISO 9001:2015 and agency ISO procedures, with citations.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("run", help="run the Telegram bot (polling or webhook); without a token, the terminal chat")
    sub.add_parser("chat", help="terminal chat through the same answering code as Telegram")

    p = sub.add_parser("reindex", help="rebuild the search index from the corpus folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--full", action="store_true", help="ignore the embedding cache and embed everything again")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("ask", help="ask one question and print the ranked, cited passages")
    p.add_argument("question", nargs="+")
    p.add_argument("--json", action="store_true")
    p.add_argument("-k", type=int, default=5, help="number of results (default 5)")

    p = sub.add_parser("eval", help="evaluate retrieval on a JSON Lines question set")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--mode",
        default="hybrid+restore",
        choices=["lexical", "dense", "hybrid", "hybrid+restore", "all"],
        help="retrieval configuration (default hybrid+restore; 'all' compares the four)",
    )

    p = sub.add_parser("model", help="the offline embedding model: install (rebuild) or check parity")
    p.add_argument("action", choices=["install", "check"])
    p.add_argument("--json", action="store_true")
    p.add_argument("--force", action="store_true", help="rebuild even if the model folder is present")

    p = sub.add_parser("users", help="manage who may use the bot")
    p.add_argument("action", choices=["list", "add", "remove", "promote"])
    p.add_argument("user_id", nargs="?", type=int)
    p.add_argument("--name", default="")

    p = sub.add_parser("stats", help="usage report")
    p.add_argument("--since", help="YYYY-MM-DD")
    p.add_argument("--csv", metavar="FILE", help="also write the per-day table to a CSV file")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("unanswered", help="questions declined or disliked, grouped by similar wording")
    p.add_argument("--since", help="YYYY-MM-DD")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("purge", help="delete question logs older than the retention period")
    p.add_argument("--days", type=int, help="override QUESTION_RETENTION_DAYS")

    p = sub.add_parser("db", help="database schema and data moves")
    p.add_argument("action", choices=["upgrade", "current", "copy"])
    p.add_argument("--to", dest="target_url", help="with copy: destination DATABASE_URL")
    p.add_argument("--replace", action="store_true", help="with copy: overwrite a destination that already holds data")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"isobot: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    module_name, func_name = COMMANDS[args.command].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
