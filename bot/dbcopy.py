"""Copy every isobot table from one database to another (SQLite → PostgreSQL, or any → any) and prove nothing was lost."""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Callable

from sqlalchemy import DateTime, Engine, Table, func, inspect, select, text

import bot.models  # noqa: F401  (registers bot tables)
from bot.database import Database
from retrieval.db import Base

try:
    import retrieval.store  # noqa: F401  (registers retrieval tables)
except ImportError:
    pass

BATCH_ROWS = 1000


class CopyRefused(RuntimeError):
    """The copy would overwrite data or copy from an out-of-date schema; `reason` says which."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # "source_outdated" | "target_not_empty"
        self.detail = detail


@dataclass(frozen=True)
class TableCopy:
    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


def _canonical(value) -> str:
    """One spelling per value whatever the engine returned (bool vs int, JSON text vs list, bytes)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime) and value.tzinfo is not None:
        # SQLite hands back naive UTC for the same instant PostgreSQL returns in the session's zone.
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _ordered(table: Table):
    keys = list(table.primary_key.columns) or list(table.columns)
    return select(table).order_by(*keys)


def table_checksum(engine: Engine, table: Table) -> tuple[int, str]:
    """Row count and SHA-256 over every row in primary-key order, columns in model order."""
    digest = hashlib.sha256()
    rows = 0
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=BATCH_ROWS).execute(_ordered(table)):
            digest.update("\t".join(_canonical(v) for v in row).encode("utf-8"))
            digest.update(b"\n")
            rows += 1
    return rows, digest.hexdigest()


def copyable_tables(engine: Engine) -> list[Table]:
    """isobot tables present in the database, parents before children."""
    present = set(inspect(engine).get_table_names())
    return [t for t in Base.metadata.sorted_tables if t.name in present]


def _reset_sequences(conn, tables: list[Table]) -> None:
    # Rows arrive with their ids, so PostgreSQL's serial counters must be moved past them.
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1:
            continue
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": keys[0].name}).scalar()
        if seq:
            conn.execute(
                text(f'SELECT setval(:s, COALESCE((SELECT MAX("{keys[0].name}") FROM "{table.name}"), 0) + 1, false)'),
                {"s": seq},
            )


def copy_database(
    source_url: str,
    target_url: str,
    *,
    replace: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy all rows; refuse a non-empty destination unless replace; return per-table counts and checksums."""
    source = Database.from_url(source_url)
    target = Database.from_url(target_url)
    try:
        head = source.head_revision()
        if source.current_revision() != head:
            raise CopyRefused("source_outdated", f"{source.current_revision()} → {head}")
        target.upgrade()
        tables = copyable_tables(source.engine)
        target_tables = set(inspect(target.engine).get_table_names())
        tables = [t for t in tables if t.name in target_tables]

        with target.engine.begin() as conn:
            non_empty = [t.name for t in tables if conn.execute(select(func.count()).select_from(t)).scalar()]
            if non_empty and not replace:
                raise CopyRefused("target_not_empty", ", ".join(non_empty))
            for table in reversed(tables):
                conn.execute(table.delete())

        with source.engine.connect() as src, target.engine.begin() as dst:
            for table in tables:
                zoned = [c.name for c in table.columns if isinstance(c.type, DateTime) and c.type.timezone]
                batch: list[dict] = []
                copied = 0
                for row in src.execution_options(yield_per=BATCH_ROWS).execute(_ordered(table)):
                    values = dict(row._mapping)
                    for name in zoned:
                        # SQLite drops the offset of UTC times; PostgreSQL would read a naive value in its own zone.
                        if values[name] is not None and values[name].tzinfo is None:
                            values[name] = values[name].replace(tzinfo=timezone.utc)
                    batch.append(values)
                    if len(batch) >= BATCH_ROWS:
                        dst.execute(table.insert(), batch)
                        copied += len(batch)
                        batch = []
                if batch:
                    dst.execute(table.insert(), batch)
                    copied += len(batch)
                if progress:
                    progress(table.name, copied)
            if dst.dialect.name == "postgresql":
                _reset_sequences(dst, tables)

        results = []
        for table in tables:
            src_rows, src_sum = table_checksum(source.engine, table)
            dst_rows, dst_sum = table_checksum(target.engine, table)
            results.append(TableCopy(table.name, src_rows, dst_rows, src_sum, dst_sum))
        return results
    finally:
        source.close()
        target.close()
