"""An agent's desk phone and browser softphone (asterisk/devices.py): which one rings, when the agent
counts as registered, the browser's own password, and the Asterisk configuration rendered for them.
The voice adapter runs over a fake of our own Asterisk port; tests/e2e/test_webrtc_softphone.py
makes the real call from Chromium."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callcenter.asterisk import ami_events
from callcenter.asterisk.asterisk_port import EndpointInfo, OriginateRequest
from callcenter.asterisk.sandbox import AsteriskSandbox
from callcenter.asterisk.voice import VoiceAdapter
from callcenter.asterisk.voice_state import AgentLeg
from callcenter.core import events as ev
from callcenter.core.calls import machine as cl
from callcenter.core.commands import DialAgent
from callcenter.settings import ConfigError, Settings, load_settings, phones
from tests.fake_port import FakePort


def adapter() -> tuple[VoiceAdapter, FakePort, list[Any]]:
    events: list[Any] = []
    port = FakePort()
    voice = VoiceAdapter(
        Settings(),
        events.append,
        lambda _: None,
        lambda _: None,
        port=port,
        clock=lambda: 50.0,  # type: ignore[arg-type,return-value]
    )
    return voice, port, events


def contact(aor: str, registered: bool) -> ami_events.ContactStatus:
    return ami_events.ContactStatus(
        aor, aor, "Reachable" if registered else "Removed", registered, f"sip:{aor}@127.0.0.1:5"
    )


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def dialled(voice: VoiceAdapter, port: FakePort, extension: str = "1001") -> str:
    port.calls.clear()
    voice.execute(DialAgent("i1", "1001", extension, "PJSIP/caller-1", "caller", 10.0, 1))
    await settle()
    (request,) = [args for name, args in port.calls if name == "originate"]
    assert isinstance(request, OriginateRequest)
    return request.endpoint


def test_the_browser_password_is_per_extension_and_secret() -> None:
    one = phones.web_password("agentpass", "1001")
    assert len(one) == 32 and int(one, 16) >= 0
    assert one == phones.web_password("agentpass", "1001")  # stable across restarts
    assert one != phones.web_password("agentpass", "1002")
    assert one != phones.web_password("another-secret", "1001")
    assert "agentpass" not in one


async def test_either_phone_registers_the_agent_and_only_the_last_one_gone_unregisters_it() -> None:
    _voice, port, events = adapter()
    port.emit(contact("1001-web", True))
    assert events == [ev.AgentRegistered("1001", 50.0)]  # the agent's extension, not the endpoint's
    port.emit(contact("1001", True))
    port.emit(contact("1001-web", False))
    assert events == [ev.AgentRegistered("1001", 50.0)]  # the desk phone still answers
    port.emit(contact("1001", False))
    assert events == [ev.AgentRegistered("1001", 50.0), ev.AgentUnregistered("1001", 50.0)]


async def test_the_browser_rings_while_registered_else_the_desk_phone() -> None:
    voice, port, _ = adapter()
    assert await dialled(voice, port) == "PJSIP/1001"  # nothing registered: Asterisk says why
    port.emit(contact("1001", True))
    assert await dialled(voice, port) == "PJSIP/1001"
    port.emit(contact("1001-web", True))
    assert await dialled(voice, port) == "PJSIP/1001-web"
    port.emit(contact("1001-web", False))
    assert await dialled(voice, port) == "PJSIP/1001"


async def test_listen_rings_the_supervisors_browser_when_it_is_registered() -> None:
    voice, port, _ = adapter()
    voice._legs["i1-1"] = AgentLeg("i1", "1001", channel="PJSIP/1001-00000002")
    port.emit(contact("2001-web", True))
    assert await voice.calls.execute(cl.SpyCall("i1", "1001", "sam", "2001", "listen")) is None
    (request,) = [args for name, args in port.calls if name == "originate"]
    assert request.endpoint == "PJSIP/2001-web"


async def test_a_reconcile_counts_the_browser_as_the_agents_registration() -> None:
    voice, port, _ = adapter()
    port.known = [  # what PJSIPShowEndpoints says after a (re)connect
        EndpointInfo("1001-web", frozenset({"sip:x@127.0.0.1:1"})),
        EndpointInfo("1001"),
        EndpointInfo("1002"),
    ]
    reconciled = await voice.reconciler.run()
    assert reconciled.snapshot.registered == frozenset({"1001"})
    assert await dialled(voice, port) == "PJSIP/1001-web"


def test_the_sandbox_renders_a_webrtc_endpoint_beside_each_phone() -> None:
    settings = load_settings(
        environ={}, overrides={"asterisk": {"sandbox_root": "/nonexistent/root", "sip_port": 15060}}
    )
    conf = AsteriskSandbox(settings).render()
    assert "bindport = 15088" in conf["http.conf"] and "bindaddr = 127.0.0.1" in conf["http.conf"]
    assert settings.asterisk.softphone_url == "ws://127.0.0.1:15088/ws"
    pjsip = conf["pjsip.conf"]
    assert "[1001-web](agent-web-endpoint)" in pjsip and "webrtc = yes" in pjsip
    assert f"password = {phones.web_password('agentpass', '1001')}" in pjsip
    assert "protocol = ws" in pjsip
    modules = conf["modules.conf"]
    for module in ("res_http_websocket.so", "res_pjsip_transport_websocket.so", "res_srtp.so"):
        assert f"load => {module}" in modules
    # Agents calling each other follow the same rule: the browser while registered, else the desk.
    assert "exten => 1001,1,Set(CC_WEB=${PJSIP_DIAL_CONTACTS(${EXTEN}-web)})" in conf["extensions.conf"]
    assert 'Dial(${IF($["${CC_WEB}" = ""]?PJSIP/${EXTEN}:${CC_WEB})},30)' in conf["extensions.conf"]


def test_an_extension_may_not_take_a_browser_endpoints_name() -> None:
    with pytest.raises(ConfigError, match="-web"):
        load_settings(environ={}, overrides={"agents": [{"id": "a", "extension": "1001-web"}]})
    with pytest.raises(ConfigError, match="webrtc_url"):
        load_settings(environ={}, overrides={"asterisk": {"webrtc_url": "http://pbx/ws"}})
