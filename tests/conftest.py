"""Shared fixtures: offline environment and the locally rebuilt embedding model."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO_ROOT / "corpus"
# Built once and reused across runs (git-ignored); a fresh clone builds it on the first run.
TEST_CACHE_DIR = REPO_ROOT / "var" / "test-cache"
