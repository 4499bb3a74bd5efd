"""The pure parts of the real-time layer: the desk (who holds what), the rate limit, the role
declarations, and the one socket authentication function."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from callcenter.accounts.principal import Principal
from callcenter.core.commands import OfferConversation
from callcenter.settings import ApiToken
from callcenter.web.auth import PUBLIC
from callcenter.web.chat_desk import Desk, NotYours
from callcenter.web.realtime import TokenBucket, authenticate_socket, event


def offer(iid: str, agent: str, conversation: str = "c1") -> OfferConversation:
    return OfferConversation(iid, agent, "webchat", conversation, "cust", 30.0, 1)


def test_desk_gives_each_agent_only_its_own_work() -> None:
    desk = Desk()
    desk.offered(offer("i1", "1001"))
    with pytest.raises(NotYours, match="no such offer for you"):
        desk.offer_for("i1", "1002")
    with pytest.raises(NotYours, match="no such offer for you"):
        desk.offer_for("nobody", "1002")  # same words: no probing of others' work
    assert desk.withdrawn("i1", "1002") is None and "i1" in desk.offers
    held = desk.assign(desk.offer_for("i1", "1001"))
    assert "i1" not in desk.offers and desk.agent_of("c1") == held
    with pytest.raises(NotYours):
        desk.assignment_for("c1", "1002")
    assert desk.assignment_for("c1", "1001").interaction_id == "i1"
    assert desk.of_agent("1001") == ([], [held])
    assert desk.release("c1") == held and desk.agent_of("c1") is None


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] = 100.0  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_events_must_declare_known_roles() -> None:
    with pytest.raises(ValueError):
        event("x")
    with pytest.raises(ValueError):
        event("x", "customer")
    event("x", PUBLIC)
    event("x", "agent", "supervisor")


TOKENS = (
    ApiToken(name="a1", role="agent", token=SecretStr("agent-token-0123456789"), agent_id="1001"),
    ApiToken(name="sup", role="supervisor", token=SecretStr("super-token-0123456789")),
)


async def test_authenticate_socket() -> None:
    assert await authenticate_socket({}, {"token": "agent-token-0123456789"}, TOKENS) == Principal(
        "a1", "agent", "1001"
    )
    header = {"HTTP_AUTHORIZATION": "Bearer super-token-0123456789"}
    assert await authenticate_socket(header, None, TOKENS) == Principal("sup", "supervisor", None)
    assert await authenticate_socket({}, {"token": "agent-token-012345678X"}, TOKENS) is None
    assert await authenticate_socket({}, {"token": 42}, TOKENS) is None
    assert await authenticate_socket({}, "agent-token-0123456789", TOKENS) is None
    assert await authenticate_socket({}, {"token": "x" * 10_000}, TOKENS) is None
    assert await authenticate_socket({}, None, TOKENS) is None


def test_every_handler_is_declared_and_documented() -> None:
    """No ``on_*`` method escapes the role check, and docs/omnichannel.md lists every event with
    the roles the code declares."""
    import re
    from pathlib import Path

    from callcenter.web.chat_agent import AgentNamespace
    from callcenter.web.chat_customer import CustomerNamespace
    from callcenter.web.realtime import handlers_of
    from callcenter.web.supervisor import SupervisorNamespace

    doc = (Path(__file__).parents[2] / "docs" / "omnichannel.md").read_text()
    rows = re.findall(r"^\| `(/\w+)` \| `(\w+)` \| ([a-z, ]+) \|", doc, re.M)
    known = {"public", "agent", "supervisor", "qa", "admin"}
    documented = {
        (ns, name): frozenset(r.strip() for r in roles.split(","))
        for ns, name, roles in rows
        if {r.strip() for r in roles.split(",")} <= known  # not the server -> client table
    }
    declared = {}
    namespaces = (
        (CustomerNamespace, "/customer"),
        (AgentNamespace, "/agent"),
        (SupervisorNamespace, "/supervisor"),
    )
    for cls, ns in namespaces:
        handlers = handlers_of(cls)
        bound = {h for _, h in handlers.values()}
        for attr in dir(cls):
            if attr.startswith("on_") and attr not in ("on_command", "on_received"):
                assert getattr(cls, attr) in bound, f"{cls.__name__}.{attr} declares no roles"
        declared.update({(ns, name): roles for name, (roles, _) in handlers.items()})
    assert documented == declared
