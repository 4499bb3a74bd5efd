"""CRM webhooks' pure parts: what an attempt's answer means, the backoff, the signature a receiver
checks, and which events a subscription gets."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from callcenter.core.webhooks.delivery import EVENTS, Answer, Policy, State, backoff, judge
from callcenter.crm import signing
from callcenter.settings.webhooks import Subscription, WebhooksSettings

P = Policy(max_attempts=5, min_delay=2.0, max_delay=60.0)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert judge(Answer(status), 1, 100.0, P) == judge(Answer(status), 5, 100.0, P)
    assert judge(Answer(status), 1, 100.0, P).state is State.DELIVERED
    assert judge(Answer(status), 1, 100.0, P).next_at is None


@pytest.mark.parametrize("status", [300, 301, 400, 401, 403, 404, 410, 413, 422, 499])
def test_a_4xx_or_a_redirect_is_given_up_at_once(status: int) -> None:
    verdict = judge(Answer(status), 1, 100.0, P)
    assert (verdict.state, verdict.next_at) == (State.FAILED, None)
    assert verdict.reason == f"HTTP {status}: refused, not retried"


@pytest.mark.parametrize(
    "answer", [Answer(500), Answer(502), Answer(503), Answer(599), Answer(408), Answer(429),
               Answer(None, "no answer within 10 s"), Answer(None, "ClientConnectorError")]
)  # fmt: skip
def test_5xx_408_429_timeouts_and_connection_errors_are_retried_with_doubling_delays(answer: Answer) -> None:
    assert [judge(answer, n, 100.0, P).next_at for n in (1, 2, 3, 4)] == [102.0, 104.0, 108.0, 116.0]
    assert all(judge(answer, n, 100.0, P).state is State.PENDING for n in (1, 2, 3, 4))
    last = judge(answer, 5, 100.0, P)
    assert (last.state, last.next_at) == (State.FAILED, None)
    assert last.reason.endswith("gave up after 5 attempts")


def test_the_delay_is_capped_and_retry_after_is_honoured_up_to_the_cap() -> None:
    many = Policy(max_attempts=50, min_delay=2.0, max_delay=60.0)
    assert [backoff(n, many) for n in (1, 5, 6, 7, 30)] == [2.0, 32.0, 60.0, 60.0, 60.0]
    assert judge(Answer(429, retry_after=30.0), 1, 0.0, many).next_at == 30.0
    assert judge(Answer(503, retry_after=3600.0), 1, 0.0, many).next_at == 60.0
    assert judge(Answer(503, retry_after=1.0), 3, 0.0, many).next_at == 8.0  # never sooner


@given(
    status=st.one_of(st.none(), st.integers(100, 599)),
    attempts=st.integers(1, 20),
    at=st.floats(0, 1e10),
    max_attempts=st.integers(1, 20),
)
def test_a_pending_verdict_is_always_due_later_and_never_beyond_the_limit(
    status: int | None, attempts: int, at: float, max_attempts: int
) -> None:
    policy = Policy(max_attempts, 1.0, 3600.0)
    verdict = judge(Answer(status), attempts, at, policy)
    if verdict.state is State.PENDING:
        assert verdict.next_at is not None and at < verdict.next_at <= at + 3600.0
        assert attempts < max_attempts
    else:
        assert verdict.next_at is None


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_as_documented() -> None:
    body = b'{"id":"ticket-event-1","type":"ticket.created"}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.header("s3cret-s3cret-s3cret", 1700000000, body) == f"t=1700000000,v1={expected}"


def test_a_receiver_refuses_a_wrong_secret_a_changed_body_and_an_old_timestamp() -> None:
    secret, body = "s3cret-s3cret-s3cret", b'{"a":1}'
    value = signing.header(secret, 1000, body)
    assert signing.verify(secret, value, body, now=1000.0)
    assert signing.verify(secret, value, body, now=1000.0 + signing.TOLERANCE)
    assert not signing.verify(secret, value, body, now=1001.0 + signing.TOLERANCE)  # a replay
    assert not signing.verify("another-secret-value", value, body, now=1000.0)
    assert not signing.verify(secret, value, b'{"a":2}', now=1000.0)
    assert not signing.verify(secret, "v1=" + value.split("v1=")[1], body, now=1000.0)  # no t
    assert not signing.verify(secret, "t=1000", body, now=1000.0)  # no digest
    rotated = f"{value},v1={signing.signature('old-secret-0123456', 1000, body)}"
    assert signing.verify(secret, rotated, body, now=1000.0)


def test_subscriptions_name_known_events_and_patterns() -> None:
    sub = Subscription(name="crm", url="https://crm.example/hook", secret="0123456789abcdef",
                       events=("ticket.*", "interaction.ended"))  # fmt: skip
    assert [e for e in EVENTS if sub.wants(e)] == [e for e in EVENTS if e.startswith("ticket.")] + [
        "interaction.ended"
    ]
    assert all(Subscription(name="all", url="http://x/", secret="0123456789abcdef").wants(e) for e in EVENTS)
    with pytest.raises(ValidationError, match="unknown events"):
        Subscription(
            name="crm", url="https://crm.example/", secret="0123456789abcdef", events=("ticket.made",)
        )
    with pytest.raises(ValidationError, match="at least 16"):
        Subscription(name="crm", url="https://crm.example/", secret="short")
    with pytest.raises(ValidationError, match="should match pattern"):
        Subscription(name="crm", url="ftp://crm.example/", secret="0123456789abcdef")
    with pytest.raises(ValidationError, match="duplicate subscription names"):
        WebhooksSettings(subscriptions=(sub, sub))


def test_a_secret_never_shows_in_the_settings_text() -> None:
    sub = Subscription(name="crm", url="https://crm.example/", secret="0123456789abcdef")
    assert "0123456789abcdef" not in repr(sub) and "0123456789abcdef" not in str(sub.model_dump())


def test_a_permanent_refusal_without_a_status_is_not_retried() -> None:
    """An SMTP 5xx (a team's e-mail) or a subscription removed from the settings."""
    verdict = judge(Answer(None, "SMTP 550", permanent=True), 1, 100.0, P)
    assert (verdict.state, verdict.next_at, verdict.reason) == (
        State.FAILED,
        None,
        "SMTP 550: refused, not retried",
    )
    assert judge(Answer(None, "SMTP 451"), 1, 100.0, P).state is State.PENDING
