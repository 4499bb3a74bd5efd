"""FarmPort: several Asterisk servers as one port (callcenter/asterisk/farm_port.py), on fakes of
our own port. The real thing, two sandbox Asterisk servers and Kamailio: tests/integration/test_farm.py."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from callcenter.asterisk.agi import AgiChannel, AgiResult
from callcenter.asterisk.ami_events import AmiEvent, ContactStatus, Hangup, Newchannel, UserEvent
from callcenter.asterisk.asterisk_port import (
    AmiError,
    AmiNotConnected,
    Application,
    ChannelInfo,
    Dialplan,
    EndpointInfo,
    Move,
    OriginateRequest,
)
from callcenter.asterisk.farm_port import FarmNames, FarmPort, FarmServer, build_asterisk_port, farm_routes
from callcenter.settings import ConfigError, load_settings
from tests.fake_port import FakePort


def farm() -> tuple[FarmPort, FakePort, FakePort]:
    a, b = FakePort(), FakePort()
    return FarmPort([FarmServer("a", "callcenter-a-", a), FarmServer("b", "callcenter-b-", b)]), a, b


def agent_leg(caller: str, extension: str = "1001") -> OriginateRequest:
    return OriginateRequest(
        endpoint=f"PJSIP/{extension}",
        target=Dialplan("cc-agent", "bridge"),
        ring_timeout=8,
        channel_id="i1-1",
        variables={"CC_INTERACTION_ID": "i1", "CC_CALLER_CHANNEL": caller},
    )


def test_events_and_channels_carry_their_server() -> None:
    port, a, b = farm()
    seen: list[AmiEvent] = []
    port.subscribe(seen.append)
    a.emit(Newchannel("PJSIP/caller-00000001", "callcenter-a-1.1", "", "from-trunk", "5000"))
    b.emit(Newchannel("PJSIP/caller-00000001", "callcenter-b-1.1", "", "from-trunk", "5000"))
    b.emit(Hangup("PJSIP/caller-00000001", "callcenter-b-1.1", "", 16, "Normal"))
    b.emit(UserEvent("CCCallbackConnected", "x", {"Channel": "PJSIP/1001-00000002", "Other": "v"}))
    assert [getattr(e, "channel", None) for e in seen[:3]] == [
        "PJSIP/caller-00000001~a",
        "PJSIP/caller-00000001~b",
        "PJSIP/caller-00000001~b",
    ]
    user = seen[3]
    assert isinstance(user, UserEvent)
    assert user.headers == {"Channel": "PJSIP/1001-00000002~b", "Other": "v"}


async def test_actions_go_to_the_server_of_their_channel_without_its_name() -> None:
    port, a, b = farm()
    await port.hangup("PJSIP/caller-00000001~b")
    hold, held = Dialplan("cc-hold"), Dialplan("cc-held")
    await port.redirect(Move("PJSIP/caller-00000001~a", hold), Move("PJSIP/1001-00000003~a", held))
    await port.set_var("PJSIP/1001-00000003~a", "CC_CALLER_CHANNEL", "PJSIP/caller-00000001~a")
    assert b.calls == [("hangup", "PJSIP/caller-00000001")]
    assert a.calls == [
        (
            "redirect",
            (Move("PJSIP/caller-00000001", hold), Move("PJSIP/1001-00000003", held)),
        ),
        ("set_var", ("PJSIP/1001-00000003", "CC_CALLER_CHANNEL", "PJSIP/caller-00000001")),
    ]


async def test_what_cannot_be_done_across_servers_is_refused_not_sent() -> None:
    port, a, b = farm()
    with pytest.raises(AmiError, match="different Asterisk servers"):
        await port.redirect(Move("PJSIP/x-1~a", Dialplan("h")), Move("PJSIP/y-2~b", Dialplan("h")))
    with pytest.raises(AmiError, match="another Asterisk server"):
        await port.set_var("PJSIP/x-1~a", "CC_CALLER_CHANNEL", "PJSIP/y-2~b")
    with pytest.raises(AmiError, match="names none of the Asterisk servers"):
        await port.hangup("PJSIP/x-1")  # a name without its server
    with pytest.raises(AmiError, match="names none of the Asterisk servers"):
        await port.hangup("PJSIP/x-1~c")
    assert a.calls == [] and b.calls == []


async def test_an_agent_leg_rings_on_the_callers_server_over_the_trunk_when_registered_elsewhere() -> None:
    port, a, b = farm()
    b.emit(ContactStatus("1001", "1001", "Reachable", True, "sip:1001@127.0.0.1:5100"))
    a.emit(ContactStatus("1002", "1002", "Reachable", True, "sip:1002@127.0.0.1:5101"))

    await port.originate(agent_leg("PJSIP/caller-00000001~a", "1001"))  # caller on A, agent on B
    await port.originate(agent_leg("PJSIP/caller-00000004~b", "1001"))  # caller and agent on B
    await port.originate(agent_leg("PJSIP/caller-00000005~b", "1002"))  # caller on B, agent on A

    [(_, on_a)] = [c for c in a.calls if c[0] == "originate"]
    assert on_a.endpoint == "PJSIP/1001@peer-b"
    assert on_a.variables["CC_CALLER_CHANNEL"] == "PJSIP/caller-00000001"
    assert on_a.channel_id == "i1-1"
    [(_, local), (_, crossed)] = [c for c in b.calls if c[0] == "originate"]
    assert local.endpoint == "PJSIP/1001" and local.variables["CC_CALLER_CHANNEL"] == "PJSIP/caller-00000004"
    assert crossed.endpoint == "PJSIP/1002@peer-a"

    # The phone moves to A: the next leg for a caller on A stays on A.
    b.emit(ContactStatus("1001", "1001", "Removed", False))
    a.emit(ContactStatus("1001", "1001", "Reachable", True, "sip:1001@127.0.0.1:5100"))
    await port.originate(agent_leg("PJSIP/caller-00000006~a", "1001"))
    assert a.calls[-1][1].endpoint == "PJSIP/1001"


async def test_a_supervisor_spy_names_the_spied_channel_on_its_server() -> None:
    port, _, b = farm()
    request = OriginateRequest(
        endpoint="PJSIP/1009",
        target=Application("ChanSpy", "PJSIP/1001-00000007~b,qES"),
        ring_timeout=8,
    )
    await port.originate(request)
    [(method, sent)] = b.calls
    assert method == "originate" and sent.target == Application("ChanSpy", "PJSIP/1001-00000007,qES")


async def test_listings_join_the_connected_servers() -> None:
    port, a, b = farm()
    a.live = [ChannelInfo("PJSIP/caller-00000001", "callcenter-a-1.1")]
    b.live = [ChannelInfo("PJSIP/caller-00000001", "callcenter-b-1.1")]
    a.known = [EndpointInfo("1001"), EndpointInfo("1002", frozenset({"sip:1002@x"}))]
    b.known = [EndpointInfo("1001", frozenset({"sip:1001@y"})), EndpointInfo("1002")]
    listed = [c.channel for c in await port.channels()]
    assert listed == ["PJSIP/caller-00000001~a", "PJSIP/caller-00000001~b"]
    endpoints = {e.name: e.contacts for e in await port.endpoints()}
    assert endpoints == {"1001": frozenset({"sip:1001@y"}), "1002": frozenset({"sip:1002@x"})}
    # Registrations learnt from the listing route the next agent leg.
    await port.originate(agent_leg("PJSIP/caller-00000001~a", "1001"))
    assert a.calls[-1][1].endpoint == "PJSIP/1001@peer-b"

    b.connected = False  # B is down: its channels are not listed, A's still are
    assert [c.channel for c in await port.channels()] == ["PJSIP/caller-00000001~a"]
    assert port.connected
    a.connected = False
    assert not port.connected
    with pytest.raises(AmiNotConnected):
        await port.channels()


async def test_a_global_variable_is_set_on_every_connected_server() -> None:
    port, a, b = farm()
    b.connected = False
    await port.set_var("", "CC_OPENING", "1|6||callcenter/welcome-menu")
    assert a.calls == [("set_var", ("", "CC_OPENING", "1|6||callcenter/welcome-menu"))]
    assert b.calls == []


class Session:
    def __init__(self, channel: str, uniqueid: str) -> None:
        self.headers: Mapping[str, str] = {"agi_channel": channel, "agi_uniqueid": uniqueid}

    @property
    def channel(self) -> str:
        return self.headers["agi_channel"]

    @property
    def uniqueid(self) -> str:
        return self.headers["agi_uniqueid"]

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        return AgiResult(200, "0", "")

    async def set_variable(self, name: str, value: str) -> None:
        pass


async def test_fastagi_sessions_are_named_after_the_server_that_minted_their_uniqueid() -> None:
    names = FarmNames([("a", "callcenter-a-"), ("b", "callcenter-b-")])
    seen: list[tuple[str, str]] = []

    async def route(session: AgiChannel) -> None:
        seen.append((session.channel, session.headers["agi_channel"]))

    routes = names.wrap_routes({"inbound": route})
    await routes["inbound"](Session("PJSIP/caller-00000001", "callcenter-b-1796305657.12"))
    await routes["inbound"](Session("PJSIP/caller-00000001", "callcenter-a-1796305657.12"))
    await routes["inbound"](Session("PJSIP/caller-00000002", "1796305657.13"))  # no prefix: the first
    assert [channel for channel, _ in seen] == [
        "PJSIP/caller-00000001~b",
        "PJSIP/caller-00000001~a",
        "PJSIP/caller-00000002~a",
    ]
    assert all(channel == header for channel, header in seen)


def test_one_server_by_default_several_with_asterisk_servers() -> None:
    single = load_settings(environ={}, overrides={})
    assert not isinstance(build_asterisk_port(single.asterisk), FarmPort)
    routes = {"inbound": Session}  # passed through untouched
    assert farm_routes(single.asterisk, routes) == routes  # type: ignore[arg-type]
    several = load_settings(
        environ={},
        overrides={"asterisk": {"servers": [{"name": "a"}, {"name": "b", "ami_port": 5138}]}},
    )
    port = build_asterisk_port(several.asterisk)
    assert isinstance(port, FarmPort) and sorted(port.servers) == ["a", "b"]
    assert several.asterisk.server("b").uniqueid_prefix == "callcenter-b-"


@pytest.mark.parametrize(
    ("servers", "extra", "message"),
    [
        ([{"name": "a"}, {"name": "a"}], {}, "the name 'a' is used twice"),
        (
            [{"name": "a", "system_name": "x"}, {"name": "b", "system_name": "x"}],
            {},
            "system name 'x' is used twice",
        ),
        ([{"name": "a"}], {"server_name": "z"}, "server_name 'z' is none of servers"),
        ([{"name": "A b"}], {}, "servers.0.name"),
    ],
)
def test_bad_server_lists_are_refused_with_the_reason(
    servers: list[dict[str, str]], extra: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={}, overrides={"asterisk": {"servers": servers, **extra}})


async def test_a_server_that_stays_away_is_reconciled_without_one_that_comes_back_is_not() -> None:
    a, b = FakePort(), FakePort()
    servers = [FarmServer("a", "callcenter-a-", a), FarmServer("b", "callcenter-b-", b)]
    port = FarmPort(servers, lost_after=0.01)
    told: list[str] = []

    async def reconcile() -> None:
        told.append("reconcile")

    port.subscribe(lambda event: None, reconcile, lambda: told.append("lost"))
    a.connected = False
    a._disconnected()  # a is dead: still away after lost_after, b is up
    for _ in range(200):
        if "reconcile" in told:
            break
        await asyncio.sleep(0.01)
    assert told == ["lost", "reconcile"]

    told.clear()
    b.connected = False
    b._disconnected()
    b.connected = True  # an AMI hiccup: back before lost_after
    await asyncio.sleep(0.05)
    assert told == ["lost"]
    await port.stop()
