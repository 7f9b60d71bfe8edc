"""Per-user rate limiting: a flood of messages gets one polite notice, then silence until it calms."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    ALLOW = "allow"
    NOTICE = "notice"  # first message over the limit: tell the user once
    DROP = "drop"  # further messages in the same flood: ignore silently


@dataclass
class _UserWindow:
    times: deque
    noticed: bool = False


class FloodGuard:
    """Sliding window: at most `limit` actions per `window` seconds for each user."""

    def __init__(self, limit: int = 8, window: float = 20.0, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._users: dict[int, _UserWindow] = {}
        self._lock = threading.Lock()

    def check(self, user_id: int) -> Verdict:
        now = self.clock()
        with self._lock:
            state = self._users.setdefault(user_id, _UserWindow(deque()))
            while state.times and now - state.times[0] >= self.window:
                state.times.popleft()
            if len(state.times) < self.limit:
                state.times.append(now)
                if len(state.times) <= self.limit // 2:
                    # The flood has calmed down: a later flood deserves a new notice.
                    state.noticed = False
                return Verdict.ALLOW
            # Dropped messages do not extend the window, so a flooder is back once they pause.
            if state.noticed:
                return Verdict.DROP
            state.noticed = True
            return Verdict.NOTICE

    def retry_after(self, user_id: int) -> int:
        """Seconds until this user may send again (for the notice text)."""
        with self._lock:
            state = self._users.get(user_id)
            if not state or not state.times:
                return 0
            return max(1, int(self.window - (self.clock() - state.times[0]) + 0.999))

    def forget_idle(self) -> None:
        """Drop users with no recent activity, so the table does not grow forever."""
        now = self.clock()
        with self._lock:
            for user_id in [u for u, s in self._users.items() if not s.times or now - s.times[-1] >= self.window]:
                del self._users[user_id]
