"""Build, check, switch and load index bundles (var/index/<build-id>/ plus the CURRENT pointer).

A bundle is a folder with one file per component, like a sentence-transformers model folder:

    manifest.json        model, dimension, corpus hash, document hashes, counts, timings, format version
    passages.jsonl       one Passage per line, in bundle order (the row numbers of both indexes)
    correspondence.json  {"rows": [...], "new_in_2015": [...]}
    glossary.json        [{"term", "means"}]
    lexical/             retrieval.lexical.LexicalIndex
    dense/               retrieval.dense.DenseIndex

`reindex(settings)` builds into `<build-id>.tmp`, checks it, renames it and only then replaces
CURRENT (write a temp file, os.replace), so a failed or killed build never touches the live bundle.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from retrieval.documents import Corpus, load_corpus
from retrieval.types import CorrespondenceRow, GlossaryEntry, NewClause, Passage

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".reindex.lock"
KEEP_BUNDLES = 3
EMBED_BATCH = 32


class ReindexBusy(RuntimeError):
    """Another reindex holds the lock."""


class BundleError(RuntimeError):
    """An index bundle is missing a component or its parts disagree."""


@dataclass(frozen=True)
class FileDetail:
    """A new or changed document, as the reindex summary reports it."""

    doc_id: str
    path: str
    change: str  # "added" | "changed"
    sections: tuple[str, ...] = ()
    version: str = ""
    status: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReindexSummary:
    """What one reindex did; `as_json()` has the keys DESIGN.md promises for `isobot reindex --json`."""

    documents: int
    passages: int
    added: int
    changed: int
    removed: int
    embedded: int
    warnings: tuple[str, ...]
    seconds: float
    build_id: str
    bundle_path: str = ""
    model: str = ""
    removed_ids: tuple[str, ...] = ()
    details: tuple[FileDetail, ...] = ()
    unchanged: bool = False  # the live bundle already matched the corpus; nothing was built

    def as_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "passages": self.passages,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "embedded": self.embedded,
            "warnings": len(self.warnings),
            "seconds": round(self.seconds, 3),
            "build_id": self.build_id,
            "warning_messages": list(self.warnings),
            "bundle_path": self.bundle_path,
            "model": self.model,
            "removed_ids": list(self.removed_ids),
            "unchanged": self.unchanged,
            "details": [dataclasses.asdict(d) for d in self.details],
        }


# --- the CURRENT pointer ----------------------------------------------------------------------


def current_bundle_path(index_dir: Path | str) -> Path | None:
    """The live bundle folder named by index_dir/CURRENT, or None when there is none (yet)."""
    index_dir = Path(index_dir)
    try:
        name = (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name or "/" in name or name.startswith("."):
        return None
    path = index_dir / name
    return path if (path / "manifest.json").is_file() else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            _fsync_dir(path)
    _fsync_dir(root)


def switch_current(index_dir: Path, build_id: str) -> None:
    """Point CURRENT at a bundle atomically: readers see the old name or the new one, never half."""
    tmp = index_dir / f".{CURRENT_FILE}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(build_id + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / CURRENT_FILE)
    _fsync_dir(index_dir)


# --- loading a bundle -------------------------------------------------------------------------


def _passage_from_json(data: dict) -> Passage:
    for key in ("heading_path", "iso_refs"):
        data[key] = tuple(data.get(key) or ())
    return Passage(**data)


def read_manifest(bundle_path: Path | str) -> dict:
    path = Path(bundle_path) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path}: manifest.json is missing") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None


@dataclass(frozen=True, eq=False)
class IndexBundle:
    """A loaded bundle: everything the search side needs, checked to agree on the passage count."""

    path: Path
    manifest: dict
    passages: tuple[Passage, ...]
    lexical: Any  # retrieval.lexical.LexicalIndex
    dense: Any  # retrieval.dense.DenseIndex
    correspondence: tuple[CorrespondenceRow, ...] = ()
    new_in_2015: tuple[NewClause, ...] = ()
    glossary: tuple[GlossaryEntry, ...] = ()

    @property
    def build_id(self) -> str:
        return str(self.manifest.get("build_id", self.path.name))

    @classmethod
    def load(cls, path: Path | str) -> "IndexBundle":
        from retrieval.dense import DenseIndex
        from retrieval.lexical import LexicalIndex

        path = Path(path)
        manifest = read_manifest(path)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"{path}: bundle format {manifest.get('format_version')} is not {FORMAT_VERSION}")
        passages = tuple(
            _passage_from_json(json.loads(line))
            for line in (path / "passages.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
        table = json.loads((path / "correspondence.json").read_text(encoding="utf-8"))
        rows = tuple(
            CorrespondenceRow(r["clause_2008"], r["title_2008"], tuple(r["clauses_2015"]), r.get("note", ""))
            for r in table.get("rows", [])
        )
        news = tuple(NewClause(n["clause"], n["title"], n.get("note", "")) for n in table.get("new_in_2015", []))
        glossary = tuple(
            GlossaryEntry(g["term"], tuple(g["means"]))
            for g in json.loads((path / "glossary.json").read_text(encoding="utf-8"))
        )
        bundle = cls(
            path=path,
            manifest=manifest,
            passages=passages,
            lexical=LexicalIndex.load(path / "lexical"),
            dense=DenseIndex.load(path / "dense"),
            correspondence=rows,
            new_in_2015=news,
            glossary=glossary,
        )
        bundle.check()
        return bundle

    def check(self) -> None:
        """Raise BundleError unless manifest, passages, lexical and dense agree."""
        expected = self.manifest.get("counts", {}).get("passages")
        counts = {
            "passages.jsonl": len(self.passages),
            "lexical": int(getattr(self.lexical, "count", len(self.passages))),
            "dense": int(self.dense.count),
        }
        if any(n != expected for n in counts.values()):
            raise BundleError(f"{self.path}: manifest counts {expected} passages but found {counts}")
        dimension = self.manifest.get("dimension")
        if self.passages and dimension and int(self.dense.dimension) != int(dimension):
            raise BundleError(f"{self.path}: dense dimension {self.dense.dimension} ≠ manifest {dimension}")


def check_bundle(path: Path | str) -> dict:
    """Load a bundle fully and return its manifest; BundleError when it is not usable."""
    try:
        return IndexBundle.load(path).manifest
    except BundleError:
        raise
    except Exception as exc:  # a truncated file surfaces as any parse error
        raise BundleError(f"{path}: cannot load ({type(exc).__name__}: {exc})") from exc


# --- building ---------------------------------------------------------------------------------


def new_build_id(now: dt.datetime | None = None) -> str:
    """Sortable by time, to the microsecond (builds within one second must still sort): '20261125T001500123456Z-3f9a'."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(2)}"


def _bundle_dirs(index_dir: Path) -> list[Path]:
    return sorted(
        (p for p in index_dir.iterdir() if p.is_dir() and not p.name.endswith(".tmp") and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def _clean_leftovers(index_dir: Path) -> None:
    for path in index_dir.glob("*.tmp"):
        if path.is_dir():
            log.info("removing leftover partial build %s", path)
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob(f".{CURRENT_FILE}.*.tmp"):
        path.unlink(missing_ok=True)


def _prune(index_dir: Path, keep: int = KEEP_BUNDLES) -> None:
    current = current_bundle_path(index_dir)
    bundles = _bundle_dirs(index_dir)
    for path in bundles[:-keep] if len(bundles) > keep else []:
        if current is None or path.resolve() != current.resolve():
            shutil.rmtree(path, ignore_errors=True)


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


@dataclass(frozen=True)
class _KnownModel:
    """The live bundle's model as its manifest names it: enough to read the cache without loading weights."""

    model_name: str
    dimension: int
    needs_segmented_input: bool = False


class _Progress:
    """tqdm bars on stderr, or nothing."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def bar(self, total: int, desc: str, unit: str = "đoạn"):
        if not self.enabled:
            return None
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


def _vectors_for(
    passages: tuple[Passage, ...], model, engine, *, full: bool, progress: "_Progress", load_model
) -> tuple[np.ndarray, int, Any]:
    """(vectors in passage order, how many were embedded now, the model used) — cache first unless `full`.

    `model` is an embedder or a _KnownModel; the real embedder is loaded (`load_model()`) only
    when some text is missing from the cache, which keeps an unchanged reindex fast.
    """
    from retrieval.store import get_cached_vectors, store_vectors, text_hash

    from retrieval.dense import passage_text_for_embedding

    # The embedder segments for PhoBERT-like models itself (Embedder.prepare); the cache keys on this text.
    texts = [passage_text_for_embedding(p) for p in passages]
    hashes = [text_hash(t) for t in texts]
    cached = {} if full else get_cached_vectors(engine, model.model_name, hashes)
    # Identical texts (e.g. two versions of one procedure section) are embedded once.
    todo: dict[str, str] = {}
    for key, text in zip(hashes, texts):
        if key not in cached:
            todo.setdefault(key, text)
    if todo and isinstance(model, _KnownModel):
        return _vectors_for(passages, load_model(), engine, full=full, progress=progress, load_model=load_model)
    fresh: dict[str, np.ndarray] = {}
    bar = progress.bar(len(todo), "Nhúng đoạn văn") if todo else None
    keys = list(todo)
    for start in range(0, len(keys), EMBED_BATCH * 4):
        batch = keys[start : start + EMBED_BATCH * 4]
        vectors = np.asarray(
            model.embed_passages([todo[k] for k in batch], batch_size=EMBED_BATCH, show_progress=False),
            dtype=np.float32,
        )
        fresh_batch = dict(zip(batch, vectors))
        store_vectors(engine, model.model_name, fresh_batch, replace=full)
        fresh.update(fresh_batch)
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    lookup = {**cached, **fresh}
    dimension = int(model.dimension)
    matrix = np.zeros((len(passages), dimension), dtype=np.float32)
    for row, key in enumerate(hashes):
        vector = lookup[key]
        if vector.shape != (dimension,):
            raise BundleError(f"embedding has dimension {vector.shape} but the model says {dimension}")
        matrix[row] = vector
    return matrix, len(todo), model


def recipe_hash() -> str:
    """Fingerprint of the code that shapes a bundle, so a changed tokenizer or format forces a rebuild."""
    import hashlib

    digest = hashlib.sha256(f"format {FORMAT_VERSION}".encode())
    here = Path(__file__).resolve().parent
    for name in ("types.py", "documents.py", "textproc.py", "understanding.py", "lexical.py", "dense.py", "index.py"):
        path = here / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    # Word/PDF files are parsed by retrieval.ingest: a better parser must reach unchanged files too.
    for path in sorted((here / "ingest").glob("*.py")):
        digest.update(f"ingest/{path.name}".encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _reusable(previous_path: Path | None, previous: dict | None, corpus: Corpus, settings, embedder) -> bool:
    """True when the live bundle was built from this very corpus, model, settings and code."""
    if previous_path is None or not previous:
        return False
    same = (
        previous.get("corpus_hash") == corpus.corpus_hash
        and previous.get("model_setting") == str(settings.embedding_model)
        and previous.get("faiss_index_type") == settings.faiss_index_type
        and previous.get("recipe") == recipe_hash()
        and (embedder is None or previous.get("model") == embedder.model_name)
    )
    if not same:
        return False
    try:
        check_bundle(previous_path)
    except BundleError as exc:
        log.warning("live bundle is unusable, rebuilding: %s", exc)
        return False
    return True


def _changes(corpus: Corpus, previous: dict | None) -> tuple[list[str], list[str], list[str]]:
    old = (previous or {}).get("documents", {})
    new = {doc_id: d.content_hash for doc_id, d in corpus.documents.items()}
    added = [d for d in new if d not in old]
    changed = [d for d in new if d in old and old[d].get("hash") != new[d]]
    removed = sorted(d for d in old if d not in new)
    return added, changed, removed


def write_bundle(
    target: Path,
    corpus: Corpus,
    vectors: np.ndarray,
    manifest: dict,
    progress: _Progress,
) -> dict:
    """Write every component of a bundle into `target` (a fresh folder); returns the manifest."""
    from retrieval.dense import DenseIndex
    from retrieval.lexical import LexicalIndex

    timings = manifest.setdefault("timings", {})
    target.mkdir(parents=True)
    with open(target / "passages.jsonl", "w", encoding="utf-8") as handle:
        for p in corpus.passages:
            handle.write(json.dumps(dataclasses.asdict(p), ensure_ascii=False) + "\n")
    _write_json(
        target / "correspondence.json",
        {
            "rows": [dataclasses.asdict(r) for r in corpus.correspondence],
            "new_in_2015": [dataclasses.asdict(n) for n in corpus.new_in_2015],
        },
    )
    _write_json(target / "glossary.json", [dataclasses.asdict(g) for g in corpus.glossary])

    started = time.perf_counter()
    bar = progress.bar(2, "Dựng chỉ mục", unit="phần")
    LexicalIndex.build(list(corpus.passages)).save(target / "lexical")
    timings["lexical_seconds"] = round(time.perf_counter() - started, 3)
    if bar is not None:
        bar.update(1)
    started = time.perf_counter()
    DenseIndex.build(vectors, manifest["faiss_index_type"]).save(target / "dense")
    timings["dense_seconds"] = round(time.perf_counter() - started, 3)
    if bar is not None:
        bar.update(1)
        bar.close()
    _write_json(target / "manifest.json", manifest)
    _fsync_tree(target)
    return manifest


def reindex(settings, *, progress: bool = True, full: bool = False, embedder=None) -> ReindexSummary:
    """Rebuild the index bundle from settings.corpus_dir and make it live.

    Raises CorpusError (nothing written), ReindexBusy (another build holds the lock) or any
    build error (CURRENT untouched, the partial folder removed now or by the next build).
    """
    from retrieval.db import ensure_schema, make_engine
    from retrieval.store import record_build_finished, record_build_started

    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ReindexBusy(f"một lần dựng chỉ mục khác đang chạy (khóa {index_dir / LOCK_FILE})") from None
    try:
        _clean_leftovers(index_dir)
        bars = _Progress(progress)
        corpus = load_corpus(settings.corpus_dir)
        loaded_at = time.perf_counter()

        engine = make_engine(settings.effective_database_url)
        ensure_schema(engine)
        previous_path = current_bundle_path(index_dir)
        previous = None
        if previous_path is not None:
            try:
                previous = read_manifest(previous_path)
            except BundleError as exc:
                log.warning("ignoring the live bundle's manifest: %s", exc)
        added, changed, removed = _changes(corpus, previous)
        if not full and _reusable(previous_path, previous, corpus, settings, embedder):
            # Nothing to do: keep the live bundle, so the running bot has nothing to reload.
            summary = ReindexSummary(
                documents=len(corpus.documents),
                passages=len(corpus.passages),
                added=0,
                changed=0,
                removed=0,
                embedded=0,
                warnings=tuple(corpus.warnings),
                seconds=time.perf_counter() - started,
                build_id=previous_path.name,
                bundle_path=str(previous_path),
                model=str(previous.get("model", "")),
                unchanged=True,
            )
            engine.dispose()
            return summary

        def load_model():
            from retrieval.embedding import load_embedder

            return load_embedder(settings)

        if embedder is not None:
            model = embedder
        elif not full and previous and previous.get("model_setting") == str(settings.embedding_model):
            model = _KnownModel(previous["model"], int(previous["dimension"]), bool(previous.get("needs_segmented_input")))
        else:
            model = load_model()

        build_id = new_build_id()
        record_build_started(engine, build_id, model.model_name)
        target_tmp = index_dir / f"{build_id}.tmp"
        try:
            vectors, embedded, model = _vectors_for(
                corpus.passages, model, engine, full=full, progress=bars, load_model=load_model
            )
            embedded_at = time.perf_counter()
            manifest = {
                "format_version": FORMAT_VERSION,
                "build_id": build_id,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "model": model.model_name,
                "model_setting": str(settings.embedding_model),
                "dimension": int(model.dimension),
                "needs_segmented_input": bool(getattr(model, "needs_segmented_input", False)),
                "faiss_index_type": settings.faiss_index_type,
                "corpus_dir": str(settings.corpus_dir),
                "corpus_hash": corpus.corpus_hash,
                "recipe": recipe_hash(),
                "documents": {
                    doc_id: {
                        "hash": d.content_hash,
                        "path": d.path,
                        "title": d.title,
                        "kind": d.kind,
                        "code": d.code,
                        "version": d.version,
                        "effective_date": d.effective_date,
                        "status": d.status,
                        "passages": sum(1 for p in corpus.passages if p.doc_id == doc_id),
                    }
                    for doc_id, d in corpus.documents.items()
                },
                "counts": {
                    "documents": len(corpus.documents),
                    "passages": len(corpus.passages),
                    "correspondence_rows": len(corpus.correspondence),
                    "glossary_entries": len(corpus.glossary),
                    "embedded": embedded,
                },
                "warnings": list(corpus.warnings),
                "timings": {
                    "load_corpus_seconds": round(loaded_at - started, 3),
                    "embed_seconds": round(embedded_at - loaded_at, 3),
                },
            }
            write_bundle(target_tmp, corpus, vectors, manifest, bars)
            final = index_dir / build_id
            os.rename(target_tmp, final)
            _fsync_dir(index_dir)
            check_bundle(final)
            switch_current(index_dir, build_id)
        except BaseException as exc:
            shutil.rmtree(target_tmp, ignore_errors=True)
            if "final" in locals() and final.exists() and current_bundle_path(index_dir) != final:
                shutil.rmtree(final, ignore_errors=True)
            try:
                record_build_finished(engine, build_id, "failed", error=f"{type(exc).__name__}: {exc}",
                                      seconds=time.perf_counter() - started)
            except Exception:  # the build error matters more than its bookkeeping
                log.exception("could not record the failed build")
            raise
        _prune(index_dir)
        seconds = time.perf_counter() - started
        details = tuple(
            FileDetail(
                doc_id=doc_id,
                path=corpus.documents[doc_id].path,
                change=change,
                sections=corpus.documents[doc_id].sections,
                version=corpus.documents[doc_id].version,
                status=corpus.documents[doc_id].status,
                warnings=corpus.documents[doc_id].warnings,
            )
            for change, ids in (("added", added), ("changed", changed))
            for doc_id in ids
        )
        summary = ReindexSummary(
            documents=len(corpus.documents),
            passages=len(corpus.passages),
            added=len(added),
            changed=len(changed),
            removed=len(removed),
            embedded=embedded,
            warnings=tuple(corpus.warnings),
            seconds=seconds,
            build_id=build_id,
            bundle_path=str(index_dir / build_id),
            model=model.model_name,
            removed_ids=tuple(removed),
            details=details,
        )
        record_build_finished(
            engine,
            build_id,
            "ok",
            documents=summary.documents,
            passages=summary.passages,
            added=summary.added,
            changed=summary.changed,
            removed=summary.removed,
            embedded=summary.embedded,
            warnings=len(summary.warnings),
            seconds=seconds,
            corpus_hash=corpus.corpus_hash,
        )
        engine.dispose()
        return summary
    finally:
        lock.release()
