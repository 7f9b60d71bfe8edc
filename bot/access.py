"""Who may talk to the bot: open or allowlist mode; admins are ADMIN_IDS plus database admins."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.database import DatabaseUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """The Telegram identity behind one update, as far as access decisions go."""

    user_id: int
    chat_id: int | None = None
    chat_type: str = "private"  # "private" | "group" | "supergroup" | "channel" | "inline"


class AccessPolicy:
    """Decides whether a caller gets answers and whether they may run admin commands."""

    def __init__(self, mode: str, admin_ids: tuple[int, ...], database):
        self.mode = mode
        self.admin_ids = frozenset(admin_ids)
        self.database = database

    @classmethod
    def from_settings(cls, settings, database) -> "AccessPolicy":
        return cls(settings.access_mode, tuple(settings.admin_ids), database)

    def is_admin(self, user_id: int) -> bool:
        if user_id in self.admin_ids:
            return True
        return self.database.user_role(user_id) == "admin"

    def may_use(self, caller: Caller) -> bool:
        """Open mode: everyone not blocked. Allowlist mode: admins, allowlisted users, or unblocked users
        in allowlisted group chats (one database call, so a blocked user stays blocked inside a group).
        A database outage fails open in open mode and closed in allowlist mode."""
        if caller.user_id in self.admin_ids:
            return True
        try:
            if self.mode == "open":
                return self.database.user_status(caller.user_id) != "blocked"
            if self.database.user_role(caller.user_id) == "admin":
                return True
            in_group = caller.chat_id is not None and caller.chat_id != caller.user_id
            return self.database.is_allowed(user_id=caller.user_id, chat_id=caller.chat_id if in_group else None)
        except DatabaseUnavailable as exc:
            log.error("access check without the database (%s mode): %s", self.mode, exc)
            return self.mode == "open"

    def log_refusal(self, caller: Caller, what: str) -> None:
        """Refusals are logged with ids and the kind of action, never the message text."""
        log.warning("refused %s: user=%s chat=%s type=%s", what, caller.user_id, caller.chat_id, caller.chat_type)
