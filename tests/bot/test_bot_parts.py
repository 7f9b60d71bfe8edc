"""Small parts of the bot that need no Telegram: flood guard, access policy, API URLs, clause arguments."""
from __future__ import annotations

from bot.access import AccessPolicy, Caller
from bot.app import api_base_url, file_base_url
from bot.database import Database
from bot.flood import FloodGuard, Verdict
from bot.handlers import _parse_clause_args


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_flood_guard_notices_once_per_flood_and_recovers():
    clock = Clock()
    guard = FloodGuard(limit=3, window=10, clock=clock)
    verdicts = [guard.check(7) for _ in range(10)]
    assert verdicts[:3] == [Verdict.ALLOW] * 3
    assert verdicts[3] is Verdict.NOTICE and set(verdicts[4:]) == {Verdict.DROP}
    assert guard.check(8) is Verdict.ALLOW  # other users are not affected
    assert guard.retry_after(7) in range(1, 11)
    clock.now += 10.5
    assert guard.check(7) is Verdict.ALLOW
    # A new flood after calming down gets a new notice.
    assert [guard.check(7) for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTICE]


def test_access_policy_allowlist_with_admins_from_settings_and_database(tmp_path):
    db = Database.from_url(f"sqlite:///{tmp_path / 'a.db'}")
    db.upgrade()
    policy = AccessPolicy("allowlist", (1,), db)
    assert policy.may_use(Caller(1)) and policy.is_admin(1)
    assert not policy.may_use(Caller(2)) and not policy.is_admin(2)
    db.promote(2)
    assert policy.is_admin(2) and policy.may_use(Caller(2))
    db.allow(3)
    assert policy.may_use(Caller(3)) and not policy.is_admin(3)
    db.allow(-100)
    assert policy.may_use(Caller(4, -100, "supergroup")) and not policy.may_use(Caller(4, -200, "supergroup"))
    db.deny(3)
    assert not policy.may_use(Caller(3))
    assert AccessPolicy("open", (), db).may_use(Caller(5))


def test_api_base_url_forms():
    assert api_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/bot"
    assert api_base_url("http://127.0.0.1:8081/") == "http://127.0.0.1:8081/bot"
    assert api_base_url("http://h/bot/") == "http://h/bot"
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://h/bot{token}/test") == "http://h/file/bot{token}/test"


def test_clause_arguments():
    assert _parse_clause_args(["7.5.3"]) == ("7.5.3", 2015)
    assert _parse_clause_args(["4.2.3", "2008"]) == ("4.2.3", 2008)
    assert _parse_clause_args(["2008", "điều", "4.2.3"]) == ("4.2.3", 2008)
    assert _parse_clause_args(["điều", "8.5"]) == ("8.5", 2015)
    assert _parse_clause_args(["abc"]) is None
