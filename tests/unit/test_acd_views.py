"""What outsiders see of the engine: read-only views that follow it, and one family of domain errors."""

from __future__ import annotations

import pytest

from callcenter.core import events as ev
from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent, AgentState, IllegalTransition, Move
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.errors import DomainError, InvalidRequest, NotYourCall, UnknownAgent
from callcenter.core.omni.conversations import ConversationError
from callcenter.core.omni.customers import CustomerError, UnknownCustomer
from callcenter.core.qa.scorecard import ReviewError


def make() -> Acd:
    agents = [Agent(id="a1", extension="1001", queues=frozenset({"support"}))]
    return Acd(AcdConfig(), agents, {"support": qs.Queue("support")})


def test_views_follow_the_engine_and_refuse_changes() -> None:
    acd = make()
    agents, interactions, waiting, counts = acd.agents, acd.interactions, acd.waiting, acd.state_counts
    acd.handle(ev.CallArrived("c1", "+1555", "", "5000", "PJSIP/c1", 1.0))
    acd.handle(ev.IvrFinished("c1", "1", "support", 2.0, 0))
    assert "c1" in interactions and "c1" in waiting and interactions["c1"].queue == "support"
    acd.handle(ev.AgentRegistered("1001", 3.0))  # logs in, gets the caller
    assert agents["a1"].state == AgentState.OFFERED and counts[AgentState.OFFERED] == 1
    assert "c1" not in waiting and interactions["c1"].offered_to == "a1"
    for view, key, value in [
        (agents, "a1", agents["a1"]),
        (interactions, "c1", interactions["c1"]),
        (counts, AgentState.BUSY, 5),
        (acd.queues, "x", qs.Queue("x")),
    ]:
        with pytest.raises(TypeError):
            view[key] = value  # type: ignore[index]
    acd.handle(ev.CallerHungUp("c1", "16", 4.0))
    assert "c1" not in interactions and agents["a1"].state == AgentState.AVAILABLE


def test_queues_view_shows_a_reload() -> None:
    acd = make()
    acd.set_queues({"sales": qs.Queue("sales")}, 1.0)
    assert list(acd.queues) == ["sales"]


@pytest.mark.parametrize(
    "error",
    [
        UnknownAgent("a9"),
        NotYourCall("not on it"),
        InvalidRequest("no target"),
        IllegalTransition("a1", AgentState.LOGGED_OUT, Move.PAUSE),
        ConversationError("closed"),
        UnknownCustomer("c9"),
        ReviewError("bad answers"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_domain_error_is_a_domain_error(error: Exception) -> None:
    assert isinstance(error, DomainError)


def test_refusals_raise_domain_errors_and_change_nothing() -> None:
    acd = make()
    with pytest.raises(UnknownAgent):
        acd.handle(ev.AgentLogin("nobody", 1.0))
    with pytest.raises(InvalidRequest):
        acd.handle(ev.ConversationArrived("m1", "voice", "cust", "conv", "support", 1.0))
    with pytest.raises(InvalidRequest):
        acd.handle(ev.ConversationArrived("m1", "pigeon", "cust", "conv", "support", 1.0))
    with pytest.raises(NotYourCall):
        acd.handle(ev.WrapUpDone("a1", "c1", "", "", 1.0))
    assert dict(acd.interactions) == {} and acd.agents["a1"].state == AgentState.LOGGED_OUT
    assert issubclass(CustomerError, DomainError) and issubclass(InvalidRequest, ValueError)
