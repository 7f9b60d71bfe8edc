"""Reindex with the real offline model: incremental embedding, atomic switch, kills, locks, the CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrieval.db import make_engine
from retrieval.documents import CorpusError
from retrieval.index import IndexBundle, ReindexBusy, current_bundle_path, reindex
from retrieval.settings import load_settings
from retrieval.store import recent_builds

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def index_settings(tiny_corpus, model_data_dir):
    return load_settings(ISOBOT_DATA_DIR=str(model_data_dir), ISOBOT_CORPUS_DIR=str(tiny_corpus))


def _env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ISOBOT_DATA_DIR=str(settings.data_dir),
        ISOBOT_CORPUS_DIR=str(settings.corpus_dir),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def _bundle_dirs(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir())


class _Renamed:
    """The real model under another name, as if EMBEDDING_MODEL had been switched."""

    def __init__(self, embedder, name: str):
        self._embedder, self.model_name = embedder, name
        self.dimension, self.needs_segmented_input = embedder.dimension, embedder.needs_segmented_input

    def embed_passages(self, texts, **kw):
        return self._embedder.embed_passages(texts, **kw)


class _Failing(_Renamed):
    def embed_passages(self, texts, **kw):
        raise RuntimeError("model crashed")


def test_incremental_reindex_embeds_only_what_changed(index_settings, embedder, write_corpus, tiny_corpus_files):
    corpus_dir, index_dir = index_settings.corpus_dir, index_settings.index_dir

    first = reindex(index_settings, progress=False, embedder=embedder)
    assert (first.documents, first.added, first.changed, first.removed) == (4, 4, 0, 0)
    assert first.embedded == first.passages > 0
    assert current_bundle_path(index_dir) == index_dir / first.build_id
    bundle = IndexBundle.load(current_bundle_path(index_dir))
    assert bundle.manifest["model"] == embedder.model_name and bundle.manifest["dimension"] == embedder.dimension
    assert len(bundle.passages) == first.passages and bundle.glossary[0].term == "HTQLCL"
    assert bundle.correspondence[0].clause_2008 == "4.2.3"
    # The stored vectors are the real model's: a question finds its clause by meaning alone.
    row, _ = bundle.dense.search(embedder.embed_queries(["cơ quan phải đánh giá nội bộ định kỳ"])[0], 1)[0]
    assert bundle.passages[row].id == "tcvn-iso-9001-2015#9.2"

    again = reindex(index_settings, progress=False)  # no embedder passed: nothing needs the model
    assert again.embedded == 0 and again.unchanged and again.build_id == first.build_id
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
    assert again.seconds < 10

    edited = tiny_corpus_files["procedures/qt-01.md"].replace("ký ban hành", "ký quyết định ban hành")
    write_corpus(corpus_dir, {"procedures/qt-01.md": edited})
    third = reindex(index_settings, progress=False, embedder=embedder)
    assert (third.added, third.changed, third.removed, third.embedded) == (0, 1, 0, 1)
    assert [d.doc_id for d in third.details] == ["qt-01"] and third.details[0].sections == ("1", "5.1", "5.2")
    assert current_bundle_path(index_dir).name == third.build_id != first.build_id
    live = IndexBundle.load(current_bundle_path(index_dir))
    assert "ký quyết định ban hành" in next(p.text for p in live.passages if p.id == "qt-01#5.2")
    assert first.build_id in _bundle_dirs(index_dir)  # the previous bundle is kept

    new_doc = tiny_corpus_files["procedures/qt-01.md"].replace("id: qt-01", "id: qt-02").replace(
        "code: QT-01", "code: QT-02"
    ).replace("Kiểm soát tài liệu", "Kiểm soát hồ sơ")
    write_corpus(corpus_dir, {"procedures/qt-02.md": new_doc, "transition/faq.yaml": None})
    fourth = reindex(index_settings, progress=False, embedder=embedder)
    assert (fourth.added, fourth.changed, fourth.removed) == (1, 0, 1)
    assert fourth.removed_ids == ("faq-chuyen-doi",)
    # Only qt-02's three sections are new texts (its titles differ from qt-01's).
    assert fourth.embedded == 3
    live = IndexBundle.load(current_bundle_path(index_dir))
    assert not [p for p in live.passages if p.doc_id == "faq-chuyen-doi"]
    assert {p.doc_id for p in live.passages} == {"tcvn-iso-9001-2015", "qt-01", "qt-02", "correspondence"}

    builds = recent_builds(make_engine(index_settings.effective_database_url))
    assert [b.status for b in builds] == ["ok", "ok", "ok"]
    assert builds[0].build_id == fourth.build_id and builds[0].embedded == 3


def test_changed_model_reembeds_everything_and_full_ignores_the_cache(index_settings, embedder):
    first = reindex(index_settings, progress=False, embedder=embedder)
    other = reindex(index_settings, progress=False, embedder=_Renamed(embedder, "another-model"))
    assert not other.unchanged and other.embedded == first.embedded
    assert IndexBundle.load(current_bundle_path(index_settings.index_dir)).manifest["model"] == "another-model"
    full = reindex(index_settings, progress=False, full=True, embedder=embedder)
    assert full.embedded == first.embedded and full.build_id != first.build_id


def test_bad_corpus_or_failed_build_leaves_the_live_bundle(index_settings, embedder, write_corpus):
    index_dir = index_settings.index_dir
    live = reindex(index_settings, progress=False, embedder=embedder)

    write_corpus(index_settings.corpus_dir, {"procedures/qt-09.md": "---\nid: qt-09\nkind: procedure\n---\n## 1. A\n"})
    with pytest.raises(CorpusError) as caught:
        reindex(index_settings, progress=False, embedder=embedder)
    assert any("qt-09.md:2: thiếu trường bắt buộc 'title'" in p for p in caught.value.problems)
    assert any("qt-09.md:2: thiếu trường bắt buộc 'code'" in p for p in caught.value.problems)
    assert current_bundle_path(index_dir).name == live.build_id

    write_corpus(index_settings.corpus_dir, {"procedures/qt-09.md": None, "news/tin.md": (
        "---\nid: tin\ntitle: Tin mới\nkind: news\nsource: x\n---\nTỉnh hoàn thành chuyển đổi.\n")})
    with pytest.raises(RuntimeError, match="model crashed"):
        reindex(index_settings, progress=False, embedder=_Failing(embedder, embedder.model_name))
    assert current_bundle_path(index_dir).name == live.build_id
    assert _bundle_dirs(index_dir) == [live.build_id]  # the partial build is gone
    assert IndexBundle.load(current_bundle_path(index_dir)).build_id == live.build_id
    assert recent_builds(make_engine(index_settings.effective_database_url))[0].status == "failed"


_KILL_SCRIPT = """
import sys, time
from pathlib import Path
import retrieval.lexical as lexical
from retrieval.index import reindex
from retrieval.settings import load_settings

original_save = lexical.LexicalIndex.save
def save_then_hang(self, path):
    original_save(self, path)
    Path(sys.argv[1]).write_text("half-way")
    time.sleep(120)
lexical.LexicalIndex.save = save_then_hang
reindex(load_settings(), progress=False)
"""


def test_build_killed_half_way_keeps_current_and_next_build_recovers(index_settings, embedder, write_corpus, tmp_path):
    index_dir = index_settings.index_dir
    live = reindex(index_settings, progress=False, embedder=embedder)
    # A glossary edit changes the corpus without new texts, so the child never loads the model.
    write_corpus(index_settings.corpus_dir, {"glossary.yaml": "entries:\n  - term: TTHC\n    means: thủ tục hành chính\n"})
    marker = tmp_path / "half-way"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(marker)], env=_env(index_settings), cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "the child build never got half-way"
            time.sleep(0.1)
        partial = [p for p in index_dir.iterdir() if p.name.endswith(".tmp")]
        assert len(partial) == 1 and (partial[0] / "lexical").is_dir()
        assert not (partial[0] / "manifest.json").exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    assert current_bundle_path(index_dir).name == live.build_id
    assert IndexBundle.load(current_bundle_path(index_dir)).glossary[0].term == "HTQLCL"

    after = reindex(index_settings, progress=False, embedder=embedder)  # the dead child's lock is gone
    assert after.build_id != live.build_id and after.embedded == 0
    assert not [p for p in index_dir.iterdir() if p.name.endswith(".tmp")]
    assert IndexBundle.load(current_bundle_path(index_dir)).glossary[0].term == "TTHC"


_HOLD_LOCK = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1]); lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_second_reindex_fails_fast_while_one_runs(index_settings, embedder):
    index_dir = index_settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(index_dir / ".reindex.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(ReindexBusy):
            reindex(index_settings, progress=False, embedder=embedder)
        assert time.monotonic() - started < 2
        cli = subprocess.run(
            [sys.executable, "-m", "bot.cli", "reindex", "--quiet"],
            env=_env(index_settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        )
        assert cli.returncode == 3
        assert len(cli.stderr.strip().splitlines()) == 1 and "đang chạy" in cli.stderr
        assert current_bundle_path(index_dir) is None
    finally:
        holder.kill()
        holder.wait()
    assert reindex(index_settings, progress=False, embedder=embedder).added == 4


def test_old_bundles_are_pruned_to_the_last_three(index_settings, embedder, write_corpus):
    built = []
    for n in range(5):
        write_corpus(index_settings.corpus_dir, {"glossary.yaml": f"entries:\n  - term: T{n}\n    means: m{n}\n"})
        built.append(reindex(index_settings, progress=False, embedder=embedder).build_id)
    assert _bundle_dirs(index_settings.index_dir) == sorted(built[-3:])
    assert current_bundle_path(index_settings.index_dir).name == built[-1]


def test_cli_json_summary_and_corpus_errors(index_settings, write_corpus):
    env = _env(index_settings)
    ok = subprocess.run(
        [sys.executable, "-m", "bot.cli", "reindex", "--json", "--quiet"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    for key in ("documents", "passages", "added", "changed", "removed", "embedded", "warnings", "seconds", "build_id"):
        assert key in data
    assert data["documents"] == 4 and data["added"] == 4 and data["embedded"] == data["passages"]
    assert current_bundle_path(index_settings.index_dir).name == data["build_id"]

    human = subprocess.run(
        [sys.executable, "-m", "bot.cli", "reindex", "--quiet"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert human.returncode == 0 and "Tài liệu không thay đổi" in human.stdout

    write_corpus(index_settings.corpus_dir, {
        "regulations/a.md": "---\nid: a\ntitle: A\nkind: memo\n---\n## 1. X\nY\n",
        "regulations/b.md": "no front matter\n",
    })
    bad = subprocess.run(
        [sys.executable, "-m", "bot.cli", "reindex", "--quiet"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert bad.returncode == 1
    located = [line for line in bad.stderr.splitlines() if line.startswith(str(index_settings.corpus_dir))]
    assert any("regulations/a.md:4: kind 'memo'" in line for line in located)
    assert any("regulations/b.md:1: " in line for line in located)

    cron = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "reindex.py")],
        env=env, cwd="/", capture_output=True, text=True, timeout=600,
    )
    assert cron.returncode == 1 and cron.stdout == ""
    assert len(cron.stderr.strip().splitlines()) == 1 and "2 lỗi" in cron.stderr
    assert current_bundle_path(index_settings.index_dir).name == data["build_id"]
