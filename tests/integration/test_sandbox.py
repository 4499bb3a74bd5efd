"""The Asterisk sandbox against a real Asterisk 22 (never skipped: a missing piece fails).

Runs its own instance ("sbxtest", ports 40xxx-42xxx) so it can run beside a developer's
"default" instance. The tests share one instance and run in file order: up -> checks -> a phone
registers -> a call through the dialplan contract -> kill -9 and recover -> port conflicts -> down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import threading
import time
import wave
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from panoramisk import Manager
from pyVoIP.VoIP import CallState, PhoneStatus, VoIPCall, VoIPPhone

from callcenter.asterisk.sandbox import AsteriskSandbox, SandboxError
from callcenter.settings import Settings, load_settings
from tests.conftest import instance, port
from tests.sip import unique_call_ids

pytestmark = [
    pytest.mark.asterisk,
    # pyVoIP quirks: it leaves RTP sockets to the garbage collector, and its SIP receive thread
    # may die on a closed socket after stop(). Neither is about the sandbox.
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.filterwarnings(
        "ignore:Exception in thread SIP Recieve:pytest.PytestUnhandledThreadExceptionWarning"
    ),
]

HOST = "127.0.0.1"
SIP_PORT = port(41060)
AMI_PORT = port(41038)
AGI_PORT = port(40573)
AGENT_SIP_PORT = port(41070)
CALLER_SIP_PORT = port(41071)


def _settings() -> Settings:
    return load_settings(
        environ={},
        overrides={
            "asterisk": {
                "sandbox_instance": instance("sbxtest"),
                "sip_port": SIP_PORT,
                "ami_port": AMI_PORT,
                "rtp_port_start": port(42000),
                "rtp_port_end": port(42099),
            },
            "agi": {"port": AGI_PORT},
        },
    )


@pytest.fixture(scope="module")
def settings() -> Settings:
    return _settings()


@pytest.fixture(scope="module")
def sandbox(settings: Settings) -> Iterator[AsteriskSandbox]:
    box = AsteriskSandbox(settings)
    box.down()  # a leftover from an interrupted run
    yield box
    box.down()


@contextlib.asynccontextmanager
async def ami(settings: Settings) -> AsyncIterator[tuple[Manager, asyncio.Queue[Any]]]:
    """A logged-in panoramisk Manager and a queue receiving every event."""
    events: asyncio.Queue[Any] = asyncio.Queue()
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=HOST,
        port=settings.asterisk.ami_port,
        username=settings.asterisk.ami_username,
        secret=settings.asterisk.ami_secret.get_secret_value(),
        ping_delay=3600,
    )
    manager.register_event("*", lambda _m, message: events.put_nowait(message))
    await asyncio.wait_for(manager.connect(), 10)
    try:
        yield manager, events
    finally:
        manager.close()


async def next_event(events: asyncio.Queue[Any], timeout: float, **match: str) -> Any:
    """The next event whose headers equal ``match`` (Event=..., Channel=...)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no AMI event {match} within {timeout} s")
        message = await asyncio.wait_for(events.get(), remaining)
        if all(str(message.get(k, "")).startswith(v) for k, v in match.items()):
            return message


async def next_events(events: asyncio.Queue[Any], timeout: float, *matches: dict[str, str]) -> list[Any]:
    """One event for each of ``matches``, in whatever order they come (others are skipped)."""
    found: list[Any] = [None] * len(matches)
    deadline = time.monotonic() + timeout
    while any(f is None for f in found):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            missing = [m for m, f in zip(matches, found, strict=True) if f is None]
            raise AssertionError(f"no AMI events {missing} within {timeout} s")
        message = await asyncio.wait_for(events.get(), remaining)
        for n, match in enumerate(matches):
            if found[n] is None and all(str(message.get(k, "")).startswith(v) for k, v in match.items()):
                found[n] = message
                break
    return found


def as_list(response: Any) -> list[Any]:
    return list(response) if isinstance(response, list) else [response]


def phone(
    settings: Settings, user: str, password: str, sip_port: int, rtp_low: int, callback: Any = None
) -> VoIPPhone:
    made = VoIPPhone(
        HOST,
        settings.asterisk.sip_port,
        user,
        password,
        myIP=HOST,
        callCallback=callback,
        sipPort=sip_port,
        rtpPortLow=rtp_low,
        rtpPortHigh=rtp_low + 20,
    )
    unique_call_ids(made)
    return made


def test_up_is_idempotent(sandbox: AsteriskSandbox) -> None:
    started = time.monotonic()
    status = sandbox.up(timeout=60)
    took = time.monotonic() - started
    assert status.running and status.pid is not None
    assert sandbox.is_built()
    assert sandbox.marker.read_text().count("asterisk") >= 3

    started = time.monotonic()
    again = sandbox.up(timeout=60)
    assert again.pid == status.pid, "a second up must not restart a healthy instance"
    assert time.monotonic() - started < max(2.0, took)


def test_status_and_cli_version(sandbox: AsteriskSandbox) -> None:
    status = sandbox.status()
    assert status.running
    rtp = (port(42000), port(42099))
    assert (status.sip_port, status.ami_port, status.rtp_ports) == (SIP_PORT, AMI_PORT, rtp)
    assert status.version is not None and status.version.startswith("Asterisk 22."), status.version
    assert sandbox.cli("core show version").startswith("Asterisk 22.")


def test_startup_log_is_clean(sandbox: AsteriskSandbox) -> None:
    text = sandbox.read_log()
    assert "Asterisk Ready" in text or "Loading module" in text or text, "no log written"
    bad = [line for line in text.splitlines() if " ERROR[" in line or " WARNING[" in line]
    assert not bad, "start-up logged:\n" + "\n".join(bad)
    # Every module modules.conf asks for is running (autoload=no: a failed one is just missing).
    wanted = set(
        re.findall(
            r"^load => (\S+)", (sandbox.instance_dir / "etc/asterisk/modules.conf").read_text(), re.MULTILINE
        )
    )
    running = {line.split()[0] for line in sandbox.cli("module show").splitlines()[1:-1]}
    assert wanted and not wanted - running, sorted(wanted - running)
    for module in (
        "chan_pjsip.so",
        "app_queue.so",
        "res_agi.so",
        "app_mixmonitor.so",
        "app_confbridge.so",
        "app_audiosocket.so",
        "res_musiconhold.so",
    ):
        assert module in running, module


def test_agent_and_trunk_endpoints_exist(sandbox: AsteriskSandbox, settings: Settings) -> None:
    endpoints = sandbox.cli("pjsip show endpoints")
    for agent in settings.agents:
        assert f"Endpoint:  {agent.extension}/" in endpoints, agent.extension
    assert f"Endpoint:  {settings.asterisk.trunk_username}" in endpoints
    dialplan = sandbox.cli("dialplan show from-trunk")
    assert f"'{settings.asterisk.inbound_number}' =>" in dialplan
    assert f"agi://{settings.agi.host}:{AGI_PORT}/inbound" in dialplan
    for context in ("cc-wait", "cc-agent", "from-agents"):
        assert f"[ Context '{context}'" in sandbox.cli(f"dialplan show {context}")
    queues = sandbox.cli("queue show support")
    assert "PJSIP/1001" in queues


def test_prompts_installed(sandbox: AsteriskSandbox) -> None:
    directory = sandbox.prompts_dir()
    assert "en_US" in str(directory.resolve()) or directory.exists()
    for name in ("welcome-menu", "goodbye", "invalid"):
        with wave.open(str(directory / f"{name}.wav")) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            assert wav.getnframes() > 8000  # more than a second of speech
    assert sandbox.install_prompts() == []  # unchanged: nothing re-rendered


@pytest.mark.asyncio
async def test_ami_user_permissions(settings: Settings, sandbox: AsteriskSandbox) -> None:
    async with ami(settings) as (manager, _events):
        endpoints = as_list(await manager.send_action({"Action": "PJSIPShowEndpoints"}))
        assert any(m.get("ObjectName") == "1001" for m in endpoints)
        channels = as_list(await manager.send_action({"Action": "CoreShowChannels"}))
        assert channels[0].get("Response") == "Success"
        queue = as_list(await manager.send_action({"Action": "QueueStatus", "Queue": "support"}))
        assert queue[0].get("Response") == "Success"
        denied = as_list(await manager.send_action({"Action": "Command", "Command": "core show uptime"}))
        assert denied[0].get("Response") == "Error"
        assert "Permission denied" in denied[0].get("Message", "")
        hangup = as_list(await manager.send_action({"Action": "Hangup", "Channel": "PJSIP/nobody-1"}))
        assert "Permission denied" not in hangup[0].get("Message", "")
        getconfig = as_list(await manager.send_action({"Action": "UpdateConfig", "SrcFilename": "x.conf"}))
        assert getconfig[0].get("Response") == "Error"


@pytest.mark.asyncio
async def test_phone_registers_as_agent(settings: Settings, sandbox: AsteriskSandbox) -> None:
    agent = phone(
        settings, "1001", settings.asterisk.agent_password.get_secret_value(), AGENT_SIP_PORT, port(42200)
    )
    await asyncio.to_thread(agent.start)
    try:
        assert agent.get_status() == PhoneStatus.REGISTERED
        async with ami(settings) as (manager, _events):
            contacts = as_list(await manager.send_action({"Action": "PJSIPShowContacts"}))
            ours = [m for m in contacts if m.get("Event") == "ContactList" and m.get("Endpoint") == "1001"]
            assert ours, contacts
            assert f"{HOST}:{AGENT_SIP_PORT}" in ours[0]["Uri"]
        assert f"{HOST}:{AGENT_SIP_PORT}" in sandbox.cli("pjsip show contacts")
    finally:
        await asyncio.to_thread(agent.stop)


class _AgiServer:
    """A minimal FastAGI server standing in for the callcenter server's /inbound script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.replies: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        while line := (await reader.readline()).decode().strip():
            key, _, value = line.partition(": ")
            env[key] = value
        self.requests.append(env)
        for command in ('STREAM FILE callcenter/invalid ""', "SET VARIABLE CC_QUEUE support"):
            writer.write(command.encode() + b"\n")
            await writer.drain()
            self.replies.append((await reader.readline()).decode().strip())
        writer.close()


@pytest.mark.asyncio
async def test_dialplan_contract_call_flow(settings: Settings, sandbox: AsteriskSandbox) -> None:
    """Caller -> inbound number -> AGI sets CC_QUEUE -> cc-wait (hold music) -> the "server"
    originates the agent into cc-agent,bridge -> both in one bridge -> agent hangs up."""
    agi = _AgiServer()
    server = await asyncio.start_server(agi.handle, HOST, AGI_PORT)
    agent_calls: list[VoIPCall] = []
    answered = threading.Event()

    def on_agent_call(call: VoIPCall) -> None:
        agent_calls.append(call)
        call.answer()
        answered.set()

    ast = settings.asterisk
    agent = phone(
        settings, "1001", ast.agent_password.get_secret_value(), AGENT_SIP_PORT, port(42200), on_agent_call
    )
    caller = phone(
        settings, ast.trunk_username, ast.trunk_password.get_secret_value(), CALLER_SIP_PORT, port(42300)
    )
    await asyncio.to_thread(agent.start)
    await asyncio.to_thread(caller.start)
    try:
        async with ami(settings) as (manager, events):
            call = await asyncio.to_thread(caller.call, ast.inbound_number)
            hold = await next_event(
                events, 20, Event="MusicOnHoldStart", Channel=f"PJSIP/{ast.trunk_username}-"
            )
            caller_channel = hold["Channel"]
            assert agi.requests and agi.requests[0]["agi_network_script"] == "inbound"
            assert agi.replies[0].startswith("200 result=0 endpos="), agi.replies  # prompt found
            assert agi.replies[1] == "200 result=1"
            variable = as_list(
                await manager.send_action(
                    {"Action": "Getvar", "Channel": caller_channel, "Variable": "CC_QUEUE"}
                )
            )
            assert variable[0].get("Value") == "support"

            response = as_list(
                await manager.send_action(
                    {
                        "Action": "Originate",
                        "Channel": "PJSIP/1001",
                        "Context": "cc-agent",
                        "Exten": "bridge",
                        "Priority": "1",
                        "Async": "true",
                        "Timeout": "15000",
                        "Variable": (
                            f"CC_INTERACTION_ID=t-1,CC_AGENT_ID=1001,CC_CALLER_CHANNEL={caller_channel}"
                        ),
                    }
                )
            )
            assert response[0].get("Response") == "Success", response
            # The caller waits in a holding bridge of its own (BridgeWait, type "base"); the
            # agent's Bridge() moves it into a basic bridge with the agent.
            first = await next_event(events, 20, Event="BridgeEnter", BridgeType="basic")
            second = await next_event(events, 10, Event="BridgeEnter", BridgeUniqueid=first["BridgeUniqueid"])
            channels = {first["Channel"], second["Channel"]}
            assert caller_channel in channels
            assert any(c.startswith("PJSIP/1001-") for c in channels), channels
            assert answered.is_set()

            await asyncio.sleep(1.0)  # media flows; the bridge must stay up
            listing = as_list(await manager.send_action({"Action": "CoreShowChannels"}))
            bridged = [
                m
                for m in listing
                if m.get("Event") == "CoreShowChannel" and m.get("BridgeId") == first["BridgeUniqueid"]
            ]
            assert len(bridged) == 2, listing

            await asyncio.to_thread(agent_calls[0].hangup)
            # The agent's dialplan reports the bridge ended; the caller leaves the bridge and goes
            # on after BridgeWait() in cc-wait: Hangup. The two channels run in their own threads,
            # so the two events come in either order.
            ended, _ = await next_events(
                events,
                10,
                {"Event": "UserEvent", "UserEvent": "CCBridgeEnded"},
                {"Event": "Hangup", "Channel": caller_channel},
            )
            assert (ended["InteractionId"], ended["AgentId"]) == ("t-1", "1001")
            assert call.state in (CallState.ANSWERED, CallState.ENDED)
    finally:
        server.close()
        await asyncio.to_thread(caller.stop)
        await asyncio.to_thread(agent.stop)


def test_kill_9_then_up_recovers(sandbox: AsteriskSandbox) -> None:
    pid = sandbox.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while sandbox.pid() == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.pid() is None
    assert not sandbox.status().running
    status = sandbox.up(timeout=60)
    assert status.running and status.pid != pid
    assert sandbox.cli("core show version").startswith("Asterisk 22.")


def test_port_taken_by_another_program(sandbox: AsteriskSandbox) -> None:
    sandbox.down()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((HOST, SIP_PORT))
        with pytest.raises(
            SandboxError,
            match=rf"UDP port {HOST}:{SIP_PORT} \(asterisk.sip_port\) "
            rf"is already in use by pid {os.getpid()}",
        ):
            sandbox.up(timeout=30)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind((HOST, AMI_PORT))
        tcp.listen()
        with pytest.raises(SandboxError, match=rf"TCP port {HOST}:{AMI_PORT} \(asterisk.ami_port\)"):
            sandbox.up(timeout=30)
    assert sandbox.pid() is None


def test_down_is_idempotent(sandbox: AsteriskSandbox) -> None:
    sandbox.up(timeout=60)
    started = time.monotonic()
    sandbox.down()
    assert time.monotonic() - started < 15
    assert sandbox.pid() is None and not sandbox.status().running
    sandbox.down()
    with pytest.raises(SandboxError, match="is it up"):
        sandbox.cli("core show version")
