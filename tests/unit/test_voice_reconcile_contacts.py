"""A reconcile's endpoint list against the registrations seen while it ran (found by
``bench/failover.py --callers 50``: agents whose phones registered while the new owner reconciled
were marked unregistered by the older list and never offered a caller again). Our own port's fake
(tests/fake_port.py) answers the reconcile; the registrations go through the real event mapper."""

from __future__ import annotations

from typing import Any

from callcenter.asterisk.ami_events import ContactStatus
from callcenter.asterisk.asterisk_port import ChannelInfo, EndpointInfo
from callcenter.asterisk.voice_events import EventMapper
from callcenter.asterisk.voice_reconcile import Reconciler
from callcenter.asterisk.voice_state import Tasks, VoiceState
from callcenter.core import events as ev
from tests.fake_port import FakePort


class SlowPort(FakePort):
    """Phones register (or go) while the reconcile asks about a waiting caller, as on a real
    Asterisk where 50 callers' variables take a while: after the endpoint list was given."""

    def __init__(self, meanwhile: list[ContactStatus], mapper: list[EventMapper]) -> None:
        super().__init__()
        self.meanwhile = meanwhile
        self.mapper = mapper

    async def get_var(self, channel: str, name: str) -> str | None:
        for event in self.meanwhile:
            self.mapper[0].on_event(event)
        self.meanwhile = []
        return {"CC_INTERACTION_ID": "i1", "CC_QUEUE": "support", "CALLERID(num)": "+15550100"}.get(name)


async def test_a_registration_seen_during_the_reconcile_wins_over_the_older_list() -> None:
    state = VoiceState(contacts={"1003": {"sip:1003@old"}})
    submitted: list[ev.Event] = []

    async def hangup(channel: str) -> None:
        return None

    nothing: Any = lambda *args: False  # noqa: E731
    mapper = EventMapper(state, Tasks(), submitted.append, lambda: 5.0, hangup, nothing, nothing, nothing)
    meanwhile = [
        ContactStatus("1001", "1001", "Created", True, "sip:1001@new"),  # registers
        ContactStatus("1003", "1003", "Removed", False, "sip:1003@old"),  # goes
    ]
    port = SlowPort(meanwhile, [mapper])
    # The list, older than those events: 1001 not registered yet, 1003 still registered, 1002 as is.
    port.known = [
        EndpointInfo("1001"),
        EndpointInfo("1002", frozenset({"sip:1002@x"})),
        EndpointInfo("1003", frozenset({"sip:1003@old"})),
    ]
    port.live = [ChannelInfo("PJSIP/caller-1", "u1", context="cc-wait", duration=30)]
    found = await Reconciler(port, state, take_back=True).run()

    assert found.snapshot.registered == {"1001", "1002"}
    assert state.contacts == {"1001": {"sip:1001@new"}, "1002": {"sip:1002@x"}, "1003": set()}
    told = [
        (type(e).__name__, e.extension)
        for e in submitted
        if isinstance(e, ev.AgentRegistered | ev.AgentUnregistered)
    ]
    assert len(told) == len(submitted) and told == [
        ("AgentRegistered", "1001"),
        ("AgentUnregistered", "1003"),
    ]
    assert set(found.snapshot.waiting) == {"i1"}

    # The next reconcile, with nothing happening meanwhile, takes the list as it is.
    port.known = [EndpointInfo("1001"), EndpointInfo("1002", frozenset({"sip:1002@x"})), EndpointInfo("1003")]
    again = await Reconciler(port, state, take_back=True).run()
    assert again.snapshot.registered == {"1002"} and state.contacts["1001"] == set()
