"""Retrieval-side tables: the embedding cache and the history of index builds."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Iterable

import numpy as np
from sqlalchemy import DateTime, Engine, Float, Integer, LargeBinary, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from retrieval.db import Base

# SQLite limits bound parameters per statement; 500 stays far below every default.
_CHUNK = 500


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def text_hash(text: str) -> str:
    """The cache key for a text: sha256 of exactly the string that was embedded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache(Base):
    """One embedded text per model, so an unchanged passage is never embedded twice."""

    __tablename__ = "embedding_cache"
    __table_args__ = (UniqueConstraint("model", "text_hash", name="uq_embedding_cache_model_text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(300), nullable=False)
    text_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    dimension: Mapped[int] = mapped_column(Integer, nullable=False)
    vector: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # float32, little-endian
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, nullable=False)


class IndexBuild(Base):
    """One run of reindex: when, how it ended, and what it counted."""

    __tablename__ = "index_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, nullable=False)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running", nullable=False)  # running|ok|failed
    documents: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    passages: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    added: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    changed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    removed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    embedded: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    warnings: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    seconds: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    corpus_hash: Mapped[str] = mapped_column(String(64), default="", nullable=False)
    model: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    error: Mapped[str] = mapped_column(Text, default="", nullable=False)


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def get_cached_vectors(engine: Engine, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
    """text_hash -> float32 vector for every hash the cache holds for this model."""
    wanted = list(dict.fromkeys(hashes))
    found: dict[str, np.ndarray] = {}
    with engine.connect() as conn:
        for chunk in _chunks(wanted):
            rows = conn.execute(
                select(EmbeddingCache.text_hash, EmbeddingCache.dimension, EmbeddingCache.vector).where(
                    EmbeddingCache.model == model, EmbeddingCache.text_hash.in_(chunk)
                )
            )
            for key, dimension, blob in rows:
                vector = np.frombuffer(blob, dtype="<f4")
                if vector.shape == (dimension,):
                    found[key] = vector.astype(np.float32)
    return found


def store_vectors(engine: Engine, model: str, vectors: dict[str, np.ndarray], *, replace: bool = False) -> int:
    """Save text_hash -> vector for this model; existing rows are kept unless `replace`. Returns rows written."""
    if not vectors:
        return 0
    rows = [
        {
            "model": model,
            "text_hash": key,
            "dimension": int(np.asarray(vec).shape[-1]),
            "vector": np.asarray(vec, dtype="<f4").tobytes(),
            "created_at": _utcnow(),
        }
        for key, vec in vectors.items()
    ]
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    written = 0
    with engine.begin() as conn:
        for chunk in _chunks(rows, 200):
            stmt = insert(EmbeddingCache).values(chunk)
            if replace:
                stmt = stmt.on_conflict_do_update(
                    index_elements=["model", "text_hash"],
                    set_={"dimension": stmt.excluded.dimension, "vector": stmt.excluded.vector,
                          "created_at": stmt.excluded.created_at},
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=["model", "text_hash"])
            written += conn.execute(stmt).rowcount or 0
    return written


def cache_size(engine: Engine, model: str | None = None) -> int:
    """How many vectors the cache holds (for one model, or all)."""
    from sqlalchemy import func

    query = select(func.count()).select_from(EmbeddingCache)
    if model is not None:
        query = query.where(EmbeddingCache.model == model)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def record_build_started(engine: Engine, build_id: str, model: str = "") -> None:
    with engine.begin() as conn:
        conn.execute(IndexBuild.__table__.insert().values(build_id=build_id, model=model, status="running",
                                                           started_at=_utcnow(), error=""))


def record_build_finished(engine: Engine, build_id: str, status: str, **counts) -> None:
    """Mark a build ok or failed, with its counts (documents, passages, …, seconds, corpus_hash, model, error)."""
    allowed = {c.name for c in IndexBuild.__table__.columns} - {"id", "build_id", "started_at"}
    values = {k: v for k, v in counts.items() if k in allowed and v is not None}
    with engine.begin() as conn:
        conn.execute(
            IndexBuild.__table__.update()
            .where(IndexBuild.build_id == build_id)
            .values(status=status, finished_at=_utcnow(), **values)
        )


def recent_builds(engine: Engine, limit: int = 10) -> list[IndexBuild]:
    """The latest builds, newest first."""
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        return list(session.scalars(select(IndexBuild).order_by(IndexBuild.started_at.desc()).limit(limit)))
