"""Reindex under faults: killed at random points, a corpus file vanishing mid-build, a full disk.

Each test builds a live bundle of the tiny corpus with the real model first, then breaks the
next build and checks what an admin would: CURRENT still names a bundle that loads and answers,
nothing half-written is live, the error says what happened, and the next reindex succeeds.
"""
from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrieval.db import make_engine
from retrieval.documents import CorpusError
from retrieval.index import IndexBundle, current_bundle_path, reindex
from retrieval.settings import load_settings
from retrieval.store import recent_builds

REPO_ROOT = Path(__file__).resolve().parents[2]
KILL_RUNS = 6
KILL_SEED = 20261125


@pytest.fixture
def index_settings(tiny_corpus, model_data_dir, tmp_path):
    return load_settings(
        ISOBOT_DATA_DIR=str(model_data_dir),
        ISOBOT_CORPUS_DIR=str(tiny_corpus),
        DATABASE_URL=f"sqlite:///{tmp_path / 'index.db'}",
    )


def _glossary(term: str) -> str:
    return f"entries:\n  - term: {term}\n    means: nghĩa của {term}\n"


def _live_glossary(index_dir: Path) -> str:
    bundle = IndexBundle.load(current_bundle_path(index_dir))
    return bundle.glossary[0].term


def _leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.endswith(".tmp"))


def _assert_live_bundle_answers(index_dir: Path, embedder) -> None:
    """The live bundle loads completely and still finds clause 9.2 by meaning."""
    bundle = IndexBundle.load(current_bundle_path(index_dir))
    row, _ = bundle.dense.search(embedder.embed_queries(["cơ quan đánh giá nội bộ định kỳ"])[0], 1)[0]
    assert bundle.passages[row].id == "tcvn-iso-9001-2015#9.2"


# ----------------------------------------------------------------------------- SIGKILL
_CHILD = """
import sys
import retrieval.db, retrieval.dense, retrieval.documents, retrieval.lexical, retrieval.store  # noqa: F401
from retrieval.index import reindex
from retrieval.settings import load_settings
settings = load_settings()
print("ready", flush=True)
reindex(settings, progress=False)
print("done", flush=True)
"""


def _child_env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ISOBOT_DATA_DIR=str(settings.data_dir),
        ISOBOT_CORPUS_DIR=str(settings.corpus_dir),
        DATABASE_URL=settings.effective_database_url,
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def _start_child(settings) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], env=_child_env(settings), cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = child.stdout.readline().strip()
    if line != "ready":
        child.kill()
        raise AssertionError(f"reindex child did not start: {line!r} {child.communicate()[1][-2000:]}")
    return child


def test_reindex_killed_at_random_points_never_breaks_the_live_bundle(index_settings, embedder, write_corpus):
    index_dir = index_settings.index_dir
    reindex(index_settings, progress=False, embedder=embedder)

    # One uninterrupted child build of a glossary change tells how long the window to hit is.
    write_corpus(index_settings.corpus_dir, {"glossary.yaml": _glossary("T0")})
    child = _start_child(index_settings)
    started = time.monotonic()
    out, err = child.communicate(timeout=120)
    build_seconds = time.monotonic() - started
    assert child.returncode == 0 and "done" in out, err[-2000:]
    assert _live_glossary(index_dir) == "T0"

    rng = random.Random(KILL_SEED)
    outcomes = []
    for run in range(1, KILL_RUNS + 1):
        before = current_bundle_path(index_dir).name
        term = f"T{run}"
        write_corpus(index_settings.corpus_dir, {"glossary.yaml": _glossary(term)})
        child = _start_child(index_settings)
        # Spread the kills over the whole build: loading, writing components, fsync, rename, switch.
        time.sleep(rng.uniform(0.0, build_seconds * 1.1))
        child.kill()
        child.wait(30)

        live = current_bundle_path(index_dir)
        assert live is not None, f"run {run}: CURRENT names no complete bundle"
        assert not live.name.endswith(".tmp")
        live_term = _live_glossary(index_dir)  # loads and checks every component
        assert live_term in (f"T{run - 1}", term), live_term
        # "old+partial": killed while writing the new bundle (its .tmp folder is still there).
        outcomes.append(("old" if live.name == before else "new") + ("+partial" if _leftovers(index_dir) else ""))
        _assert_live_bundle_answers(index_dir, embedder)

        # The next build takes the dead child's lock, removes its leftovers and goes live.
        after = reindex(index_settings, progress=False, embedder=embedder)
        assert _live_glossary(index_dir) == term
        assert current_bundle_path(index_dir).name == after.build_id
        assert not _leftovers(index_dir)
    print(f"SIGKILL runs (build {build_seconds:.2f} s): live bundle afterwards {outcomes}")
    # The random delays must have hit the build itself, not only before or after it.
    assert any(o.startswith("old") for o in outcomes), outcomes


# ----------------------------------------------------------------------------- vanishing files
def test_corpus_file_vanishing_between_listing_and_reading_is_a_clear_error(
    index_settings, embedder, monkeypatch, capsys
):
    """The file is listed, then deleted before it is read (an admin moving files during cron)."""
    import retrieval.documents as documents
    from bot.cli_reindex import EXIT_CORPUS, EXIT_FAILED, run_reindex

    index_dir = index_settings.index_dir
    live = reindex(index_settings, progress=False, embedder=embedder)
    victim = index_settings.corpus_dir / "procedures" / "qt-01.md"
    listed = documents._corpus_files

    def list_then_delete(corpus_dir):
        files = listed(corpus_dir)
        victim.unlink()
        return files

    monkeypatch.setattr(documents, "_corpus_files", list_then_delete)
    code = run_reindex(index_settings, full=False, as_json=False, progress=False)
    err = capsys.readouterr().err
    assert code in (EXIT_CORPUS, EXIT_FAILED)
    assert "qt-01.md" in err and "chỉ mục hiện hành giữ nguyên" in err
    assert "Traceback" not in err
    assert current_bundle_path(index_dir).name == live.build_id
    assert not _leftovers(index_dir)
    _assert_live_bundle_answers(index_dir, embedder)

    monkeypatch.setattr(documents, "_corpus_files", listed)
    after = reindex(index_settings, progress=False, embedder=embedder)
    assert after.removed_ids == ("qt-01",)


def test_unreadable_corpus_file_is_a_clear_error(index_settings, embedder, monkeypatch, capsys):
    """A file the reindex may not read (as root chmod 000 does not stop reads, so refuse in open())."""
    from bot.cli_reindex import run_reindex

    index_dir = index_settings.index_dir
    live = reindex(index_settings, progress=False, embedder=embedder)
    victim = (index_settings.corpus_dir / "transition" / "faq.yaml").resolve()
    real_open = open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).resolve() == victim:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    monkeypatch.setattr("io.open", refusing_open)
    code = run_reindex(index_settings, full=False, as_json=False, progress=False)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code != 0
    assert "faq.yaml" in err and "chỉ mục hiện hành giữ nguyên" in err
    assert current_bundle_path(index_dir).name == live.build_id
    assert not _leftovers(index_dir)
    assert reindex(index_settings, progress=False, embedder=embedder).unchanged


def test_file_deleted_after_loading_builds_from_the_snapshot_then_disappears(
    index_settings, embedder, write_corpus, monkeypatch
):
    """Deleted while the bundle is being written: this build is consistent with what it read."""
    import retrieval.index as index_module

    index_dir = index_settings.index_dir
    reindex(index_settings, progress=False, embedder=embedder)
    write_corpus(index_settings.corpus_dir, {"glossary.yaml": _glossary("TTHC")})
    victim = index_settings.corpus_dir / "procedures" / "qt-01.md"
    real_write = index_module.write_bundle

    def delete_then_write(*args, **kwargs):
        victim.unlink()
        return real_write(*args, **kwargs)

    monkeypatch.setattr(index_module, "write_bundle", delete_then_write)
    built = reindex(index_settings, progress=False, embedder=embedder)
    monkeypatch.undo()
    bundle = IndexBundle.load(current_bundle_path(index_dir))
    assert bundle.build_id == built.build_id and bundle.glossary[0].term == "TTHC"
    assert any(p.doc_id == "qt-01" for p in bundle.passages)

    after = reindex(index_settings, progress=False, embedder=embedder)
    assert after.removed_ids == ("qt-01",)
    assert not any(p.doc_id == "qt-01" for p in IndexBundle.load(current_bundle_path(index_dir)).passages)


# ----------------------------------------------------------------------------- full disk
def _mount_tmpfs(path: Path, size_kb: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
                            capture_output=True, text=True)
    return result.returncode == 0


def _fill(path: Path, leave_bytes: int) -> None:
    """Write a filler file until only about `leave_bytes` remain free."""
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    with open(path / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))


def _bundle_bytes(bundle: Path) -> int:
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())


@pytest.mark.parametrize("disk", ["tmpfs", "injected"])
def test_disk_full_while_writing_a_bundle_leaves_the_live_one(tmp_path, tiny_corpus, embedding_settings, embedder,
                                                               write_corpus, monkeypatch, disk):
    """tmpfs: a real 8 MB filesystem filled up (needs root); injected: the n-th file write fails."""
    from retrieval.settings import DEFAULT_MODEL

    data_dir = tmp_path / "small-disk"
    mounted = disk == "tmpfs" and _mount_tmpfs(data_dir, 8 * 1024)
    if disk == "tmpfs" and not mounted:
        pytest.skip("cannot mount a tmpfs here (not root, or no mount permission); the injected variant runs")
    data_dir.mkdir(exist_ok=True)
    try:
        (data_dir / "models").mkdir()
        (data_dir / "models" / DEFAULT_MODEL).symlink_to(
            (embedding_settings.models_dir / DEFAULT_MODEL).resolve(), target_is_directory=True)
        settings = load_settings(ISOBOT_DATA_DIR=str(data_dir), ISOBOT_CORPUS_DIR=str(tiny_corpus),
                                 DATABASE_URL=f"sqlite:///{tmp_path / 'index.db'}")
        index_dir = settings.index_dir
        live = reindex(settings, progress=False, embedder=embedder)
        size = _bundle_bytes(index_dir / live.build_id)

        if mounted:
            # A real ENOSPC from the kernel, at several points of the write.
            attempts = [0, size // 4, size // 2, size - size // 10]
        else:
            # Fail the first, second, fourth and last file opened for writing in the bundle folder.
            attempts = [0, 1, 3, 6]
            import builtins
            real_open = builtins.open
        for n, room in enumerate(attempts, start=1):
            write_corpus(tiny_corpus, {"glossary.yaml": _glossary(f"D{n}")})
            if mounted:
                _fill(data_dir, room)
            else:
                writes = {"left": room}

                def full_disk_open(file, mode="r", *args, **kwargs):
                    if any(m in mode for m in "wax") and str(file).startswith(str(index_dir)):
                        writes["left"] -= 1
                        if writes["left"] < 0:
                            raise OSError(errno.ENOSPC, "No space left on device", str(file))
                    return real_open(file, mode, *args, **kwargs)

                monkeypatch.setattr("builtins.open", full_disk_open)
                monkeypatch.setattr("io.open", full_disk_open)  # pathlib writes through io.open
            try:
                with pytest.raises(OSError) as caught:
                    reindex(settings, progress=False, embedder=embedder)
            finally:
                monkeypatch.undo()
                (data_dir / "filler").unlink(missing_ok=True)
            assert caught.value.errno == errno.ENOSPC or "No space left" in str(caught.value)
            assert current_bundle_path(index_dir).name == live.build_id, f"room {room}"
            assert not _leftovers(index_dir), f"room {room}: half-written bundle left behind"
            assert sorted(p.name for p in index_dir.iterdir() if p.is_dir()) == [live.build_id]
            _assert_live_bundle_answers(index_dir, embedder)
            assert recent_builds(make_engine(settings.effective_database_url))[0].status == "failed"

        # With room again, the next reindex goes live.
        after = reindex(settings, progress=False, embedder=embedder)
        assert current_bundle_path(index_dir).name == after.build_id
        assert _live_glossary(index_dir) == f"D{len(attempts)}"
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(data_dir)], check=False)


def test_reindex_cli_reports_a_full_disk_in_one_line(index_settings, embedder, write_corpus, monkeypatch, capsys):
    """What cron mails the admin: one Vietnamese line with the reason; exit code 2."""
    import retrieval.dense as dense
    from bot.cli_reindex import EXIT_FAILED, run_reindex

    index_dir = index_settings.index_dir
    live = reindex(index_settings, progress=False, embedder=embedder)
    write_corpus(index_settings.corpus_dir, {"glossary.yaml": _glossary("ENOSPC")})

    def no_space(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(dense.DenseIndex, "save", no_space)
    code = run_reindex(index_settings, full=False, as_json=False, progress=False, one_line_errors=True)
    err = capsys.readouterr().err.strip()
    assert code == EXIT_FAILED
    assert len(err.splitlines()) == 1
    assert "chỉ mục hiện hành giữ nguyên" in err and "No space left on device" in err
    assert current_bundle_path(index_dir).name == live.build_id and not _leftovers(index_dir)


def test_corpus_error_keeps_bundle_even_when_nothing_was_ever_built(index_settings, write_corpus):
    """A broken corpus on a fresh install: a CorpusError, and no CURRENT pointing at garbage."""
    write_corpus(index_settings.corpus_dir, {"procedures/qt-01.md": "---\nid: [\n---\n"})
    with pytest.raises(CorpusError):
        reindex(index_settings, progress=False)
    assert current_bundle_path(index_settings.index_dir) is None
