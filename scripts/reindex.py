#!/usr/bin/env python
"""Rebuild the search index, for cron: `.venv/bin/python scripts/reindex.py [--json] [--full]`.

Runs from the repository root (so the default corpus/ and var/ and the .env file are found
wherever cron starts it), shows progress bars only on a terminal, and on failure prints one
line and exits non-zero: 1 bad corpus, 2 build failed, 3 another reindex running.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild the isobot search index (cron-friendly).")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--full", action="store_true", help="ignore the embedding cache and embed everything again")
    args = parser.parse_args(argv)

    os.chdir(REPO_ROOT)
    sys.path.insert(0, str(REPO_ROOT))
    from bot.cli_reindex import run_reindex
    from retrieval.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"isobot reindex: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run_reindex(
        settings, full=args.full, as_json=args.json, progress=sys.stderr.isatty(), one_line_errors=True
    )


if __name__ == "__main__":
    sys.exit(main())
