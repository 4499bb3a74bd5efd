"""The AudioSocket server over real TCP on loopback: streams by id, garbage refused, bounded."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from callcenter.asterisk import audiosocket as aus


class Sink:
    def __init__(self, stop_after: int | None = None) -> None:
        self.pcm = bytearray()
        self.frames = 0
        self.why: str | None = None
        self.ended = asyncio.Event()
        self._stop_after = stop_after

    def audio(self, pcm: bytes) -> bool:
        self.pcm.extend(pcm)
        self.frames += 1
        return self._stop_after is None or self.frames < self._stop_after

    def closed(self, reason: str) -> None:
        self.why = reason
        self.ended.set()


async def serve(streams: dict[uuid.UUID, Sink]) -> aus.AudioSocketServer:
    server = aus.AudioSocketServer("127.0.0.1", 0, streams.get)
    server.hello_timeout = 0.5
    server.idle_timeout = 0.5
    await server.start()
    return server


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), 3) == b""


async def test_a_stream_gets_its_audio_until_the_hangup() -> None:
    sid = uuid.uuid4()
    sink = Sink()
    server = await serve({sid: sink})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(aus.encode(aus.KIND_UUID, sid.bytes))
        for n in range(5):
            writer.write(aus.encode(aus.KIND_AUDIO, bytes([n]) * 320))
        writer.write(aus.encode(aus.KIND_DTMF, b"5"))
        writer.write(aus.encode(aus.KIND_HANGUP))
        await writer.drain()
        await asyncio.wait_for(sink.ended.wait(), 3)
        assert sink.why == "hangup" and sink.frames == 5
        assert bytes(sink.pcm) == b"".join(bytes([n]) * 320 for n in range(5))
        assert await closed_by_server(reader)
        writer.close()
    finally:
        await server.stop()


async def test_an_unknown_stream_is_closed_at_once() -> None:
    server = await serve({})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(aus.encode(aus.KIND_UUID, uuid.uuid4().bytes) + aus.encode(aus.KIND_AUDIO, b"\0" * 320))
        await writer.drain()
        assert await closed_by_server(reader)
        writer.close()
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\n\r\n",  # not AudioSocket
        aus.encode(aus.KIND_AUDIO, b"\0" * 320),  # audio before the id
        aus.encode(aus.KIND_UUID, b"short"),  # an id that is not 16 bytes
        bytes((0x10,)) + (60000).to_bytes(2, "big"),  # a payload over the bound
        b"\x01\x00",  # a header cut short, then silence
        b"",  # nothing at all
    ],
)
async def test_garbage_costs_one_short_connection(garbage: bytes) -> None:
    sid = uuid.uuid4()
    sink = Sink()
    server = await serve({sid: sink})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(garbage)
        await writer.drain()
        assert await closed_by_server(reader)
        writer.close()
        # The server still serves the stream it expects.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(aus.encode(aus.KIND_UUID, sid.bytes) + aus.encode(aus.KIND_AUDIO, b"\1\0" * 160))
        writer.write(aus.encode(aus.KIND_HANGUP))
        await writer.drain()
        await asyncio.wait_for(sink.ended.wait(), 3)
        assert sink.frames == 1 and sink.why == "hangup"
        writer.close()
    finally:
        await server.stop()


async def test_an_odd_audio_payload_ends_the_stream() -> None:
    sid = uuid.uuid4()
    sink = Sink()
    server = await serve({sid: sink})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(aus.encode(aus.KIND_UUID, sid.bytes) + aus.encode(aus.KIND_AUDIO, b"\0" * 321))
        await writer.drain()
        await asyncio.wait_for(sink.ended.wait(), 3)
        assert sink.why == "error" and sink.frames == 0
        assert await closed_by_server(reader)
        writer.close()
    finally:
        await server.stop()


async def test_a_silent_stream_is_closed_and_a_cut_one_too() -> None:
    quiet, cut = uuid.uuid4(), uuid.uuid4()
    sinks = {quiet: Sink(), cut: Sink(stop_after=2)}
    server = await serve(sinks)
    try:
        _, w1 = await asyncio.open_connection("127.0.0.1", server.port)
        w1.write(aus.encode(aus.KIND_UUID, quiet.bytes))
        r2, w2 = await asyncio.open_connection("127.0.0.1", server.port)
        w2.write(aus.encode(aus.KIND_UUID, cut.bytes) + aus.encode(aus.KIND_AUDIO, b"\0" * 320) * 4)
        await w1.drain()
        await w2.drain()
        await asyncio.wait_for(sinks[quiet].ended.wait(), 3)
        await asyncio.wait_for(sinks[cut].ended.wait(), 3)
        assert sinks[quiet].why == "idle"
        assert sinks[cut].why == "cut" and sinks[cut].frames == 2
        assert await closed_by_server(r2)
        w1.close()
        w2.close()
    finally:
        await server.stop()


def test_headers_are_checked() -> None:
    assert aus.parse_header(b"\x10\x01\x40") == (0x10, 320)
    with pytest.raises(aus.ProtocolError):
        aus.parse_header(b"\x42\x00\x00")
    with pytest.raises(aus.ProtocolError):
        aus.parse_header(b"\x10\xff\xff")
