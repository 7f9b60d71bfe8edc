"""Retrieval tables: embedding_cache and index_builds (retrieval.store).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _missing(table: str) -> bool:
    # `isobot reindex` calls retrieval.db.ensure_schema, which may have made these tables already.
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("embedding_cache"):
        op.create_table(
            "embedding_cache",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("model", sa.String(300), nullable=False),
            sa.Column("text_hash", sa.String(64), nullable=False),
            sa.Column("dimension", sa.Integer(), nullable=False),
            sa.Column("vector", sa.LargeBinary(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.UniqueConstraint("model", "text_hash", name="uq_embedding_cache_model_text"),
        )
    if _missing("index_builds"):
        op.create_table(
            "index_builds",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("build_id", sa.String(64), nullable=False, unique=True),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("status", sa.String(16), nullable=False, server_default="running"),
            sa.Column("documents", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("passages", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("added", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("changed", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("removed", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("embedded", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("warnings", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("seconds", sa.Float(), nullable=False, server_default="0"),
            sa.Column("corpus_hash", sa.String(64), nullable=False, server_default=""),
            sa.Column("model", sa.String(300), nullable=False, server_default=""),
            sa.Column("error", sa.Text(), nullable=False, server_default=""),
        )


def downgrade() -> None:
    op.drop_table("index_builds")
    op.drop_table("embedding_cache")
