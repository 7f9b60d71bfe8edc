"""Bot tables: users, chats, questions, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _missing(table: str) -> bool:
    # retrieval.db.ensure_schema may have created tables before the first upgrade; keep those.
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("users"):
        op.create_table(
            "users",
            sa.Column("telegram_id", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("name", sa.String(256), nullable=False, server_default=""),
            sa.Column("username", sa.String(64), nullable=True),
            sa.Column("role", sa.String(16), nullable=False, server_default="user"),
            sa.Column("status", sa.String(16), nullable=False, server_default="seen"),
            sa.Column("added_by", sa.BigInteger(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.Column("last_seen_at", sa.DateTime(), nullable=True),
            sa.CheckConstraint("role IN ('user', 'admin')", name="ck_users_role"),
            sa.CheckConstraint("status IN ('seen', 'active', 'blocked')", name="ck_users_status"),
        )
    if _missing("chats"):
        op.create_table(
            "chats",
            sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("kind", sa.String(16), nullable=False, server_default="private"),
            sa.Column("title", sa.String(256), nullable=False, server_default=""),
            sa.Column("allowed", sa.Boolean(), nullable=False, server_default=sa.false()),
            sa.Column("added_by", sa.BigInteger(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
        )
    if _missing("questions"):
        op.create_table(
            "questions",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("user_id", sa.BigInteger(), nullable=True),
            sa.Column("chat_id", sa.BigInteger(), nullable=True),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("normalized_text", sa.Text(), nullable=False, server_default=""),
            sa.Column("answered", sa.Boolean(), nullable=False),
            sa.Column("passage_ids", sa.JSON(), nullable=False),
            sa.Column("latency_ms", sa.Float(), nullable=False, server_default="0"),
            sa.Column("source", sa.String(16), nullable=False, server_default="telegram"),
            sa.Column("created_at", sa.DateTime(), nullable=False),
        )
        op.create_index("ix_questions_user_id", "questions", ["user_id"])
        op.create_index("ix_questions_created_at", "questions", ["created_at"])
    if _missing("feedback"):
        op.create_table(
            "feedback",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("question_id", sa.Integer(), sa.ForeignKey("questions.id", ondelete="CASCADE"),
                      nullable=False),
            sa.Column("user_id", sa.BigInteger(), nullable=False),
            sa.Column("value", sa.SmallInteger(), nullable=False),
            sa.Column("comment", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.UniqueConstraint("question_id", "user_id", name="uq_feedback_question_user"),
            sa.CheckConstraint("value IN (-1, 1)", name="ck_feedback_value"),
        )
        op.create_index("ix_feedback_question_id", "feedback", ["question_id"])


def downgrade() -> None:
    for table in ("feedback", "questions", "chats", "users"):
        op.drop_table(table)
