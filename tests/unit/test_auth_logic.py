"""Sign-in throttling, password hashing, account checks and business-line visibility (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest
from argon2 import PasswordHasher

from callcenter.accounts.model import (
    AccountError,
    Passwords,
    check_account,
    check_lines,
    check_password,
    check_username,
)
from callcenter.accounts.principal import Principal
from callcenter.settings import LoginThrottleSettings
from callcenter.web.pages import _safe_next
from callcenter.web.sessions import LoginThrottle, same_token, session_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


MakeThrottle = Callable[..., LoginThrottle]


def throttle_settings(**kw: float) -> LoginThrottleSettings:
    settings = {
        "free_attempts_per_user": 3,
        "free_attempts_per_address": 10,
        "first_lockout_seconds": 2.0,
        "max_lockout_seconds": 60.0,
        "forget_after_seconds": 600.0,
        **kw,
    }
    return LoginThrottleSettings.model_validate(settings)


@pytest.fixture
def throttle() -> MakeThrottle:
    """Throttles counting in this process (tests/integration/test_login_throttle_redis.py runs the
    same tests with the counts in a real Redis)."""
    return lambda clock, **kw: LoginThrottle(throttle_settings(**kw), clock)


async def test_free_attempts_then_doubling_lockout_capped(throttle: MakeThrottle) -> None:
    clock = Clock()
    t = throttle(clock)
    for _ in range(3):
        assert await t.retry_after("alice", "10.0.0.1") == 0
        await t.failed("alice", "10.0.0.1")
    assert await t.retry_after("alice", "10.0.0.1") == 0  # three free failures
    waits = []
    for _ in range(7):
        await t.failed("alice", "10.0.0.1")
        waits.append(await t.retry_after("alice", "10.0.0.9"))  # locked whatever the address
        clock.now += waits[-1]
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


async def test_lockout_expires_with_the_clock_and_success_resets_the_user(throttle: MakeThrottle) -> None:
    clock = Clock()
    t = throttle(clock)
    for _ in range(4):
        await t.failed("bob", "10.0.0.2")
    assert await t.retry_after("bob", None) == 2.0
    clock.now += 1.5
    assert await t.retry_after("bob", None) == pytest.approx(0.5)
    clock.now += 0.5
    assert await t.retry_after("bob", None) == 0
    await t.succeeded("bob")
    await t.failed("bob", "10.0.0.2")
    assert await t.retry_after("bob", None) == 0  # counting starts again


async def test_a_quiet_spell_forgets_the_failures(throttle: MakeThrottle) -> None:
    clock = Clock()
    t = throttle(clock)
    for _ in range(3):
        await t.failed("carol", None)
    clock.now += 600
    await t.failed("carol", None)
    assert await t.retry_after("carol", None) == 0


async def test_one_address_guessing_many_usernames_is_locked_out(throttle: MakeThrottle) -> None:
    clock = Clock()
    t = throttle(clock)
    for n in range(10):
        await t.failed(f"user{n}", "192.0.2.7")
    assert await t.retry_after("someone-else", "192.0.2.7") == 0
    await t.failed("user10", "192.0.2.7")
    assert await t.retry_after("someone-else", "192.0.2.7") == 2.0
    assert await t.retry_after("someone-else", "192.0.2.8") == 0  # another address is not affected
    await t.succeeded("user3")  # a valid password for one account does not clear the address
    assert await t.retry_after("someone-else", "192.0.2.7") == 2.0


async def test_memory_stays_bounded(throttle: MakeThrottle) -> None:
    clock = Clock()
    t = throttle(clock)
    t._local.MAX_KEYS = 50
    for n in range(200):
        await t.failed(f"u{n}", None)
    assert len(t._local._counts) == 50


def test_passwords_hash_and_verify() -> None:
    p = Passwords()
    stored = p.hash("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert p.verify(stored, "correct horse battery")
    assert not p.verify(stored, "correct horse battery!")
    assert not p.verify(None, "correct horse battery")  # no such user: spends the time, says no
    assert not p.verify("not a hash", "x")
    assert not p.verify(stored, "x" * 5000)
    with pytest.raises(AccountError, match="10 to 1024"):
        p.hash("short")


@pytest.mark.parametrize("name", ["alice", "a.b-c_d@example.com", "0agent"])
def test_good_usernames(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize("name", ["", "Alice", "-x", "a b", "x" * 65, "é"])
def test_bad_usernames(name: str) -> None:
    with pytest.raises(AccountError):
        check_username(name)


def test_lines_and_account_coherence() -> None:
    assert check_lines(None) is None
    assert check_lines([" billing ", "sales", ""]) == {"billing", "sales"}
    assert check_lines([""]) is None
    with pytest.raises(AccountError, match="business line"):
        check_lines(["Billing!"])
    agents = ["1001", "1002"]
    check_account("supervisor", frozenset({"billing"}), None, agents)
    check_account("agent", None, "1001", agents)
    check_account("supervisor", frozenset({"support"}), "1002", agents)  # the supervisor's desk phone
    check_account("admin", None, "1001", agents)
    for role, lines, agent, message in [
        ("boss", None, None, "role must be"),
        ("admin", frozenset({"billing"}), None, "admin sees every"),
        ("agent", None, None, "needs agent_id"),
        ("agent", None, "9999", "not an agent"),
        ("qa", None, "1001", "only agent, supervisor and admin accounts"),
        ("supervisor", None, "9999", "not an agent"),
    ]:
        with pytest.raises(AccountError, match=message):
            check_account(role, lines, agent, agents)
    with pytest.raises(AccountError):
        check_password("x" * 1025)


def test_business_line_visibility() -> None:
    everyone = Principal("admin", "admin")
    billing = Principal("sup", "supervisor", lines=frozenset({"billing"}))
    assert everyone.may_see("sales") and everyone.may_see(None)
    assert billing.may_see("billing")
    assert not billing.may_see("sales")
    assert not billing.may_see(None)  # data without a line is for unscoped principals only


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/admin/users", "/admin/users"),
        ("/a?b=c", "/a?b=c"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("admin", "/"),
        ("/agent\r\nSet-Cookie: x=1", "/"),  # a CRLF would end the Location header
        ("/a\x00b", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_redirect_after_login_stays_on_the_site(raw: str | None, expected: str) -> None:
    assert _safe_next(raw) == expected


def test_tokens() -> None:
    assert same_token("abc", "abc") and not same_token("abc", "abd") and not same_token("abc", None)
    assert len(session_key("x")) == 64 and session_key("x") != "x"


class CountingHasher(PasswordHasher):
    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        CountingHasher.verified += 1
        return super().verify(hash, password)


def test_an_unknown_user_costs_a_hash_verification_too() -> None:
    hasher = CountingHasher(time_cost=1, memory_cost=8, parallelism=1)
    p = Passwords(hasher)
    stored = p.hash("a good long password")
    before = CountingHasher.verified
    assert not p.verify(None, "a good long password")
    assert not p.verify(stored, "another password")
    assert not p.verify(None, "x" * 5000)
    assert CountingHasher.verified - before == 3  # every answer spent one verification


def test_old_parameters_are_noticed() -> None:
    old = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)).hash("a good long password")
    assert Passwords().needs_rehash(old)
    assert not Passwords().needs_rehash(Passwords().hash("a good long password"))
