"""The bot's database API: users and chats, the question log, feedback and reports, on SQLite or PostgreSQL."""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, case, delete, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from bot.models import Chat, Feedback, Question, User, utcnow
from retrieval.db import make_engine, make_session_factory

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Alembic's migration context is process-global, so one upgrade at a time per process.
_UPGRADE_LOCK = threading.Lock()
_PG_MIGRATION_LOCK = 0x150B07  # arbitrary advisory-lock key owned by isobot's migrations


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or is locked; the bot apologises and keeps serving."""


@dataclass(frozen=True)
class UserRow:
    telegram_id: int
    name: str
    username: str | None
    role: str
    status: str
    added_by: int | None
    created_at: datetime
    last_seen_at: datetime | None


@dataclass(frozen=True)
class ChatRow:
    id: int
    kind: str
    title: str
    allowed: bool
    added_by: int | None
    created_at: datetime


@dataclass(frozen=True)
class DayStats:
    day: date  # a day in the server's local time
    questions: int
    answered: int
    thumbs_up: int
    thumbs_down: int


@dataclass(frozen=True)
class TopQuestion:
    text: str  # the most frequent wording of the group
    count: int
    answered: int


@dataclass(frozen=True)
class Stats:
    since: date | None
    questions: int
    answered: int
    users: int
    thumbs_up: int
    thumbs_down: int
    per_day: tuple[DayStats, ...]
    top_questions: tuple[TopQuestion, ...]

    @property
    def answered_rate(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    @property
    def thumbs_up_ratio(self) -> float | None:
        votes = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / votes if votes else None


@dataclass(frozen=True)
class UnansweredGroup:
    label: str  # the most frequent wording in the group
    count: int
    declined: int  # the bot said it had no answer
    disliked: int  # answered, but someone pressed 👎
    examples: tuple[str, ...]  # distinct wordings, most frequent first (at most 5)
    last_asked: datetime  # server local time
    question_ids: tuple[int, ...]


@dataclass(frozen=True)
class _LoggedQuestion:
    id: int
    text: str
    normalized_text: str
    answered: bool
    disliked: bool
    created_at: datetime


def _quiet_alembic() -> None:
    log_alembic = logging.getLogger("alembic")
    if log_alembic.level == logging.NOTSET:
        # Alembic narrates every (no-op) upgrade and its plugin loading at INFO; the bot upgrades on each start.
        log_alembic.setLevel(logging.WARNING)


def _midnight(day: date | None) -> datetime | None:
    """The stored (naive UTC) instant at which `day` starts in the server's local time."""
    if day is None:
        return None
    return datetime(day.year, day.month, day.day).astimezone(timezone.utc).replace(tzinfo=None)


def _local(stored: datetime) -> datetime:
    """A stored naive-UTC time in the server's local time: reports count the agency's days, not UTC's."""
    return stored.replace(tzinfo=timezone.utc).astimezone().replace(tzinfo=None)


class Database:
    """Synchronous SQLAlchemy access; every failure to reach the database raises DatabaseUnavailable."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = make_session_factory(engine)

    @classmethod
    def from_url(cls, url: str) -> "Database":
        return cls(make_engine(url))

    @classmethod
    def from_settings(cls, settings) -> "Database":
        return cls.from_url(settings.effective_database_url)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with self._sessions() as session, session.begin():
                yield session
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
            raise DatabaseUnavailable(f"database unavailable ({self.url}): {exc.orig or exc}") from exc

    # -- schema ---------------------------------------------------------------------------------

    def _alembic_config(self, connection):
        _quiet_alembic()
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = connection
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Alembic upgrade (idempotent; also fine on a fresh SQLite file or tables made by ensure_schema)."""
        _quiet_alembic()
        from alembic import command
        from filelock import Timeout

        # The bot, cron's reindex and an admin command may all start on a fresh database at once.
        try:
            with _UPGRADE_LOCK, self._migration_file_lock(), self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                command.upgrade(self._alembic_config(connection), revision)
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise DatabaseUnavailable(f"database unavailable ({self.url}): {exc.orig or exc}") from exc
        except Timeout as exc:
            raise DatabaseUnavailable(f"database unavailable ({self.url}): another upgrade holds {exc.lock_file}") from exc

    def _migration_file_lock(self):
        """SQLite has no advisory locks; a lock file beside the database serialises migrations."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return nullcontext()
        from filelock import FileLock

        return FileLock(f"{database}.migrate.lock", timeout=120)

    def current_revision(self) -> str | None:
        _quiet_alembic()
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise DatabaseUnavailable(f"database unavailable ({self.url}): {exc.orig or exc}") from exc

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config(None)).get_current_head()

    # -- users and chats ------------------------------------------------------------------------

    def upsert_user(self, user_id: int, name: str, username: str | None) -> None:
        """Record a Telegram user seen; keeps role and status, refreshes name, username and last seen."""
        try:
            self._upsert_user(user_id, name, username)
        except sa_exc.IntegrityError:
            # Two first messages from one user raced on the insert; the row exists now.
            self._upsert_user(user_id, name, username)

    def _upsert_user(self, user_id: int, name: str, username: str | None) -> None:
        now = utcnow()
        with self._session() as s:
            user = s.get(User, user_id)
            if user is None:
                s.add(User(telegram_id=user_id, name=name or "", username=username, created_at=now,
                           updated_at=now, last_seen_at=now))
            else:
                user.name = name or user.name
                user.username = username or user.username
                user.last_seen_at = now

    def upsert_chat(self, chat_id: int, kind: str, title: str) -> None:
        try:
            self._upsert_chat(chat_id, kind, title)
        except sa_exc.IntegrityError:
            self._upsert_chat(chat_id, kind, title)

    def _upsert_chat(self, chat_id: int, kind: str, title: str) -> None:
        now = utcnow()
        with self._session() as s:
            chat = s.get(Chat, chat_id)
            if chat is None:
                s.add(Chat(id=chat_id, kind=kind, title=title or "", created_at=now, updated_at=now))
            else:
                chat.kind = kind or chat.kind
                chat.title = title or chat.title
                chat.updated_at = now

    def user_role(self, user_id: int) -> str | None:
        with self._session() as s:
            user = s.get(User, user_id)
            return user.role if user else None

    def user_status(self, user_id: int) -> str | None:
        """'seen' | 'active' | 'blocked', or None for a user never recorded."""
        with self._session() as s:
            user = s.get(User, user_id)
            return user.status if user else None

    def is_allowed(self, user_id: int | None = None, chat_id: int | None = None) -> bool:
        """True for an allowlisted (active) user, or any unblocked user in an allowlisted group chat."""
        with self._session() as s:
            user = s.get(User, user_id) if user_id is not None else None
            if user is not None and user.status == "blocked":
                return False
            if user is not None and user.status == "active":
                return True
            if chat_id is not None and chat_id != user_id:
                chat = s.get(Chat, chat_id)
                return bool(chat and chat.allowed)
            return False

    def allow(self, telegram_id: int, name: str = "", by: int | None = None) -> None:
        """Put a user (positive id) or a group chat (negative id) on the allowlist."""
        self._set_access(telegram_id, allowed=True, name=name, by=by)

    def deny(self, telegram_id: int, by: int | None = None) -> None:
        """Block a user or take a group chat off the allowlist."""
        self._set_access(telegram_id, allowed=False, name="", by=by)

    def _set_access(self, telegram_id: int, *, allowed: bool, name: str, by: int | None) -> None:
        now = utcnow()
        with self._session() as s:
            if telegram_id < 0:
                chat = s.get(Chat, telegram_id)
                if chat is None:
                    chat = Chat(id=telegram_id, kind="group", title=name, created_at=now)
                    s.add(chat)
                chat.allowed = allowed
                chat.title = name or chat.title
                chat.added_by = by
                chat.updated_at = now
                return
            user = s.get(User, telegram_id)
            if user is None:
                user = User(telegram_id=telegram_id, name=name, role="user", created_at=now)
                s.add(user)
            user.status = "active" if allowed else "blocked"
            user.name = name or user.name
            user.added_by = by
            user.updated_at = now

    def promote(self, user_id: int, by: int | None = None) -> None:
        """Make a user an admin (and allowlisted)."""
        now = utcnow()
        with self._session() as s:
            user = s.get(User, user_id)
            if user is None:
                user = User(telegram_id=user_id, name="", created_at=now, added_by=by)
                s.add(user)
            user.role = "admin"
            user.status = "active"
            user.updated_at = now

    def list_users(self) -> list[UserRow]:
        with self._session() as s:
            admins_first = case((User.role == "admin", 0), else_=1)
            users = s.scalars(select(User).order_by(admins_first, User.telegram_id)).all()
            return [
                UserRow(u.telegram_id, u.name, u.username, u.role, u.status, u.added_by, u.created_at,
                        u.last_seen_at)
                for u in users
            ]

    def list_chats(self) -> list[ChatRow]:
        with self._session() as s:
            chats = s.scalars(select(Chat).order_by(Chat.id)).all()
            return [ChatRow(c.id, c.kind, c.title, c.allowed, c.added_by, c.created_at) for c in chats]

    # -- question log and feedback --------------------------------------------------------------

    def log_question(
        self,
        user_id: int | None,
        chat_id: int | None,
        text: str,
        normalized_text: str,
        answered: bool,
        passage_ids: list[str],
        latency_ms: float,
        source: str = "telegram",
    ) -> int:
        """Store one question and what the bot did with it; returns the question id for feedback."""
        with self._session() as s:
            q = Question(
                user_id=user_id,
                chat_id=chat_id,
                text=text,
                normalized_text=normalized_text or "",
                answered=bool(answered),
                passage_ids=list(passage_ids),
                latency_ms=float(latency_ms),
                source=source,
                created_at=utcnow(),
            )
            s.add(q)
            s.flush()
            return int(q.id)

    def record_feedback(self, question_id: int, user_id: int, value: int, comment: str | None = None) -> None:
        """One vote per user per question; a later vote or comment replaces the earlier one."""
        if value not in (1, -1):
            raise ValueError("feedback value must be +1 or -1")
        try:
            self._record_feedback(question_id, user_id, value, comment)
        except sa_exc.IntegrityError:
            # A double tap raced on the insert; the second attempt updates the row the first made.
            self._record_feedback(question_id, user_id, value, comment)

    def _record_feedback(self, question_id: int, user_id: int, value: int, comment: str | None) -> None:
        with self._session() as s:
            if s.get(Question, question_id) is None:
                # Purged or never logged: nothing to attach the vote to.
                log.warning("feedback for unknown question %s ignored", question_id)
                return
            fb = s.scalar(select(Feedback).where(Feedback.question_id == question_id, Feedback.user_id == user_id))
            if fb is None:
                s.add(Feedback(question_id=question_id, user_id=user_id, value=value, comment=comment,
                               created_at=utcnow()))
            else:
                fb.value = value
                if comment is not None:
                    fb.comment = comment
                fb.created_at = utcnow()

    def purge_questions(self, older_than_days: int) -> int:
        """Delete questions (and their feedback) older than the retention period; returns how many."""
        if older_than_days < 0:
            raise ValueError("older_than_days must be >= 0")
        cutoff = utcnow() - timedelta(days=older_than_days)
        with self._session() as s:
            old_ids = select(Question.id).where(Question.created_at < cutoff)
            s.execute(delete(Feedback).where(Feedback.question_id.in_(old_ids)))
            result = s.execute(delete(Question).where(Question.created_at < cutoff))
            return int(result.rowcount or 0)

    # -- reports --------------------------------------------------------------------------------

    def stats(self, since: date | None = None, top: int = 10) -> Stats:
        """Questions per day, answered rate, 👍/👎 counts and the most asked questions."""
        from bot.reports import group_key, ranked_wordings

        start = _midnight(since)
        with self._session() as s:
            q_stmt = select(Question.id, Question.user_id, Question.text, Question.normalized_text,
                            Question.answered, Question.created_at)
            f_stmt = select(Feedback.value, Question.created_at).join(Question, Feedback.question_id == Question.id)
            if start is not None:
                q_stmt = q_stmt.where(Question.created_at >= start)
                f_stmt = f_stmt.where(Question.created_at >= start)
            questions = s.execute(q_stmt).all()
            votes = s.execute(f_stmt).all()

        per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for row in questions:
            bucket = per_day[_local(row.created_at).date()]
            bucket[0] += 1
            bucket[1] += int(bool(row.answered))
        for value, created_at in votes:
            per_day[_local(created_at).date()][2 if value > 0 else 3] += 1

        wordings: dict[str, Counter] = defaultdict(Counter)
        answered_by_key: Counter = Counter()
        for row in questions:
            key = group_key(row.normalized_text or row.text)
            wordings[key][row.text.strip()] += 1
            answered_by_key[key] += int(bool(row.answered))
        top_rows = sorted(wordings.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:top]

        return Stats(
            since=since,
            questions=len(questions),
            answered=sum(1 for r in questions if r.answered),
            users=len({r.user_id for r in questions if r.user_id is not None}),
            thumbs_up=sum(1 for v, _ in votes if v > 0),
            thumbs_down=sum(1 for v, _ in votes if v < 0),
            per_day=tuple(DayStats(d, *per_day[d]) for d in sorted(per_day)),
            top_questions=tuple(
                TopQuestion(ranked_wordings(texts)[0], sum(texts.values()), answered_by_key[key])
                for key, texts in top_rows
            ),
        )

    def unanswered(self, since: date | None = None) -> list[UnansweredGroup]:
        """Questions the bot declined or that got 👎, grouped by similar wording, biggest group first."""
        from bot.reports import cluster_questions

        start = _midnight(since)
        with self._session() as s:
            disliked_ids = select(Feedback.question_id).where(Feedback.value < 0)
            stmt = select(Question.id, Question.text, Question.normalized_text, Question.answered,
                          Question.id.in_(disliked_ids).label("disliked"), Question.created_at).where(
                (Question.answered.is_(False)) | Question.id.in_(disliked_ids)
            )
            if start is not None:
                stmt = stmt.where(Question.created_at >= start)
            rows = [
                _LoggedQuestion(r.id, r.text, r.normalized_text, bool(r.answered), bool(r.disliked),
                                _local(r.created_at))
                for r in s.execute(stmt.order_by(Question.created_at))
            ]
        return cluster_questions(rows)
