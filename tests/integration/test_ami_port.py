"""The Asterisk port over AMI (AmiClient) against a real Asterisk: the typed answers, the typed
events, refusals as AmiError, and the subscribers told of every (re)login.

Runs its own sandbox instance ("portest", ports 43xxx) so it can run beside the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from callcenter.asterisk import ami_events
from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.asterisk_port import AmiError, Application, Dialplan, Move, OriginateRequest
from callcenter.asterisk.sandbox import AsteriskSandbox
from callcenter.settings import Settings, load_settings
from tests.conftest import instance, port

pytestmark = pytest.mark.asterisk


def _settings() -> Settings:
    return load_settings(
        environ={},
        overrides={
            "asterisk": {
                "sandbox_instance": instance("portest"),
                "sip_port": port(43060),
                "ami_port": port(43038),
                "rtp_port_start": port(43200),
                "rtp_port_end": port(43299),
                "reconnect_max_delay": 1.0,
            },
            "agi": {"port": port(43573)},
        },
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AsteriskSandbox]:
    box = AsteriskSandbox(_settings())
    box.down()
    box.forget_state()
    box.up(timeout=120)
    yield box
    box.down()


@pytest.fixture
async def client(sandbox: AsteriskSandbox) -> AsyncIterator[tuple[AmiClient, list[object], list[str]]]:
    ami = AmiClient(sandbox.settings.asterisk)
    events: list[object] = []
    logins: list[str] = []

    async def connected() -> None:
        logins.append("up")

    ami.subscribe(events.append, on_connected=connected, on_disconnected=lambda: logins.append("down"))
    await ami.start()
    assert await ami.wait_connected(20), "no AMI login"
    yield ami, events, logins
    await ami.stop()


async def wait(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def seen(events: list[object], kind: type) -> bool:
    return any(isinstance(e, kind) and getattr(e, "uniqueid", "") == "porttest-1" for e in events)


async def test_typed_lists_and_refusals(client: tuple[AmiClient, list[object], list[str]]) -> None:
    ami, _, logins = client
    await wait(lambda: logins == ["up"])
    endpoints = {e.name: e for e in await ami.endpoints()}
    assert {"1001", "1002", "caller"} <= set(endpoints) and not endpoints["1001"].registered
    assert await ami.channels() == []
    with pytest.raises(AmiError, match="Hangup"):
        await ami.hangup("PJSIP/nobody-00000001")
    with pytest.raises(AmiError):
        await ami.redirect(Move("PJSIP/nobody-00000001", Dialplan("cc-hold")))


async def test_an_originate_to_a_phone_that_is_not_there_fails_with_its_reason(
    client: tuple[AmiClient, list[object], list[str]],
) -> None:
    ami, _, _ = client
    result = await ami.originate(
        OriginateRequest("PJSIP/1001", Dialplan("cc-agent", "bridge"), ring_timeout=3, channel_id="t1-1")
    )
    assert result.status == "failed" and result.reason and not result.answered


async def test_a_local_call_is_seen_as_typed_events_and_listed_with_its_variables(
    client: tuple[AmiClient, list[object], list[str]],
) -> None:
    """A Local channel running Wait(): its Newchannel, its place in CoreShowChannels, a variable
    set and read back, and its Hangup — all typed."""
    ami, events, _ = client
    queued = await ami.originate(
        OriginateRequest(
            "Local/s@cc-held",  # Playback() answers it
            Application("Wait", "20"),
            ring_timeout=20,
            channel_id="porttest-1",
            variables={"CC_TEST": "one"},
            wait=False,
        )
    )
    assert queued.status == "queued"
    await wait(lambda: seen(events, ami_events.Newchannel))
    listed = {c.uniqueid: c for c in await ami.channels()}
    assert "porttest-1" in listed and listed["porttest-1"].channel.startswith("Local/s@cc-held")
    channel = listed["porttest-1"].channel
    await ami.set_var(channel, "CC_OTHER", "two")
    assert await ami.get_var(channel, "CC_OTHER") == "two"
    assert await ami.get_var(channel, "CC_NOT_SET") is None
    await ami.hangup(channel)
    await wait(lambda: seen(events, ami_events.Hangup))


async def test_subscribers_hear_of_a_lost_connection_and_of_the_next_login(
    sandbox: AsteriskSandbox, client: tuple[AmiClient, list[object], list[str]]
) -> None:
    ami, _, logins = client
    await wait(lambda: logins == ["up"])
    sandbox.down()
    try:
        await wait(lambda: logins == ["up", "down"])
        assert not ami.connected
    finally:
        sandbox.up(timeout=120)
    await wait(lambda: logins == ["up", "down", "up"], 30)
    assert ami.connected and await ami.channels() == []


async def test_a_login_while_asterisk_starts_is_ready_once_asterisk_is_fully_booted(
    sandbox: AsteriskSandbox,
) -> None:
    """Asterisk takes AMI logins before its modules run, answers an action of a module not running
    yet "Permission denied" and closes that session. A client that logged in during the start is
    ready only after FullyBooted: the reconcile's first action (PJSIPShowEndpoints) then succeeds,
    on the first session."""
    fast = {"reconnect_min_delay": 0.05, "reconnect_max_delay": 0.05}
    ami = AmiClient(sandbox.settings.asterisk.model_copy(update=fast))
    logins: list[str] = []
    endpoints: list[int] = []

    async def connected() -> None:
        logins.append("up")
        endpoints.append(len(await ami.endpoints()))

    ami.subscribe(lambda _event: None, on_connected=connected, on_disconnected=lambda: logins.append("down"))
    sandbox.down()
    await ami.start()
    try:
        await asyncio.to_thread(sandbox.up, 120)  # the client keeps trying meanwhile
        await wait(lambda: bool(endpoints), 30)
        assert logins == ["up"] and endpoints[0] >= 3, (logins, endpoints)
    finally:
        await ami.stop()
