"""The FastAGI server against misbehaving peers, over real TCP: it must shrug and keep serving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callcenter.asterisk.agi import AgiHangup, AgiServer, AgiSession

HEADERS = (
    b"agi_network: yes\nagi_network_script: inbound\nagi_channel: PJSIP/caller-00000001\n"
    b"agi_uniqueid: 1700000000.1\nagi_callerid: 5551234\n\n"
)


@pytest.fixture
async def server() -> AsyncIterator[tuple[AgiServer, list[str]]]:
    seen: list[str] = []

    async def inbound(session: AgiSession) -> None:
        seen.append(session.channel)
        try:
            result = await session.command("GET DATA callcenter/welcome-menu 1000 1")
            seen.append(f"digit={result.result}")
            await session.command("ANSWER")
        except AgiHangup:
            seen.append("hangup")

    agi = AgiServer("127.0.0.1", 0, {"inbound": inbound}, command_timeout=2.0)
    await agi.start()
    yield agi, seen
    await agi.stop()


async def talk(port: int, payload: bytes, replies: list[bytes] = (), read: bool = True) -> bytes:  # type: ignore[assignment]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    out = b""
    for reply in replies:
        out += await asyncio.wait_for(reader.readline(), 5)
        writer.write(reply)
        await writer.drain()
    if read:
        out += await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return out


async def test_a_normal_session(server: tuple[AgiServer, list[str]]) -> None:
    agi, seen = server
    sent = await talk(agi.port, HEADERS, [b"200 result=49\n", b"200 result=0\n"])
    assert sent.startswith(b"GET DATA callcenter/welcome-menu 1000 1\n")
    assert seen == ["PJSIP/caller-00000001", "digit=49"]


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # connect and close
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # a web client on the wrong port
        b"\x00\xff" * 5000,  # binary noise
        b"agi_network_script: nowhere\n\n",  # unknown route
        b"agi_channel: x\n" * 200,  # headers that never end
        b"agi_x: " + b"A" * 100_000 + b"\n\n",  # a line beyond the limit
    ],
)
async def test_garbage_is_dropped_and_the_server_keeps_serving(
    server: tuple[AgiServer, list[str]], payload: bytes
) -> None:
    agi, seen = server
    await talk(agi.port, payload)
    sent = await talk(agi.port, HEADERS, [b"200 result=50\n", b"200 result=0\n"])
    assert b"GET DATA" in sent and seen[-1] == "digit=50"


async def test_peer_that_sends_headers_then_hangs_up(server: tuple[AgiServer, list[str]]) -> None:
    agi, seen = server
    await talk(agi.port, HEADERS, [b"HANGUP\n"], read=False)
    await asyncio.sleep(0.5)
    assert seen[-1] == "hangup"


async def test_garbage_answer_is_an_error_not_a_crash(server: tuple[AgiServer, list[str]]) -> None:
    agi, seen = server
    await talk(agi.port, HEADERS, [b"what is this\n"])
    sent = await talk(agi.port, HEADERS, [b"200 result=51\n", b"200 result=0\n"])
    assert b"GET DATA" in sent and seen[-1] == "digit=51"


async def test_silent_peer_times_out(server: tuple[AgiServer, list[str]]) -> None:
    agi, seen = server
    reader, writer = await asyncio.open_connection("127.0.0.1", agi.port)
    writer.write(HEADERS)
    await reader.readline()  # the command; never answered
    closed = await asyncio.wait_for(reader.read(), 10)  # the server gives up and closes
    assert closed == b""
    writer.close()
    assert seen[-1] == "hangup"
