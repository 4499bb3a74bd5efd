"""The AudioSocket server: Asterisk streams a channel's audio here over TCP (live transcription).

The protocol (Asterisk's res_audiosocket) is tiny: every message is a 3-byte header — its kind
(1 byte) and the payload's length (2 bytes, big-endian) — then the payload. Kinds: ``0x00`` the
call is over, ``0x01`` the stream's UUID (16 bytes, the first message), ``0x03`` a DTMF digit,
``0x10`` audio (signed 16-bit little-endian PCM, 8 kHz mono, normally 20 ms = 320 bytes), ``0xff``
an error (1 byte code).

Every read is bounded in size and time (like the FastAGI server): a peer must name its stream within
``HELLO_TIMEOUT`` seconds, a stream nobody expects (an unknown UUID) is closed at once, a payload
larger than ``MAX_PAYLOAD`` or of an unknown kind closes the connection, and a stream that sends
nothing for ``IDLE_TIMEOUT`` seconds is closed. Garbage costs one short task, never the server.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from callcenter.aio import within

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
KINDS = frozenset({KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR})
RATE = 8000  # KIND_AUDIO is 8 kHz signed linear
MAX_PAYLOAD = 8192  # 0.5 s of audio; Asterisk sends 20 ms frames
HELLO_TIMEOUT = 5.0
IDLE_TIMEOUT = 60.0


class ProtocolError(Exception):
    """What the peer sent is not AudioSocket."""


@dataclass(frozen=True, slots=True)
class Message:
    kind: int
    payload: bytes


def encode(kind: int, payload: bytes = b"") -> bytes:
    """One message (the server sends none in normal use; tests and the bench play Asterisk)."""
    if len(payload) > 0xFFFF:
        raise ProtocolError("payload too long")
    return bytes((kind,)) + len(payload).to_bytes(2, "big") + payload


def parse_header(header: bytes) -> tuple[int, int]:
    """``(kind, length)`` of a 3-byte header; a kind we do not know or a length over
    ``MAX_PAYLOAD`` is refused."""
    if len(header) != 3:
        raise ProtocolError("short header")
    kind, length = header[0], int.from_bytes(header[1:3], "big")
    if kind not in KINDS:
        raise ProtocolError(f"unknown message kind 0x{kind:02x}")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {length} bytes")
    return kind, length


async def read_message(reader: asyncio.StreamReader, timeout: float) -> Message | None:
    """The next message; None when the peer closed the connection between messages."""
    try:
        header = await within(reader.readexactly(3), timeout)
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise ProtocolError("connection closed inside a header") from err
    kind, length = parse_header(header)
    try:
        payload = await within(reader.readexactly(length), timeout) if length else b""
    except asyncio.IncompleteReadError as err:
        raise ProtocolError("connection closed inside a message") from err
    if kind == KIND_UUID and length != 16:
        raise ProtocolError("a stream id is 16 bytes")
    if kind == KIND_AUDIO and length % 2:
        raise ProtocolError("audio of an odd number of bytes")
    return Message(kind, payload)


class Stream(Protocol):
    """Where one connection's audio goes (the live transcription's stream of one speaker)."""

    def audio(self, pcm: bytes) -> bool:
        """8 kHz signed 16-bit little-endian mono PCM. Must not block. False: end the stream (the
        connection is closed, which ends Asterisk's channel)."""

    def closed(self, reason: str) -> None:
        """The connection ended (``hangup``, ``eof``, ``idle``, ``error``, ``stopped``, ``cut``)."""


class AudioSocketServer:
    """Accepts Asterisk's AudioSocket connections; ``open(uuid)`` says where a stream's audio goes
    (None: nobody expects it, the connection is closed)."""

    def __init__(self, host: str, port: int, open_stream: Callable[[uuid.UUID], Stream | None]) -> None:
        self._host, self._port = host, port
        self._open = open_stream
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.hello_timeout = HELLO_TIMEOUT
        self.idle_timeout = IDLE_TIMEOUT

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port)
        log.info("audiosocket.listening", extra={"host": self._host, "port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        stream: Stream | None = None
        reason = "error"
        try:
            hello = await read_message(reader, self.hello_timeout)
            if hello is None or hello.kind != KIND_UUID:
                raise ProtocolError("the first message must be the stream id")
            stream = self._open(uuid.UUID(bytes=hello.payload))
            if stream is None:
                log.info(
                    "audiosocket.unexpected_stream", extra={"stream": str(uuid.UUID(bytes=hello.payload))}
                )
                return
            reason = await self._pump(reader, stream)
        except ProtocolError as err:
            log.info("audiosocket.refused", extra={"error": str(err)})
        except TimeoutError:
            reason = "idle"
            if stream is None:
                log.info("audiosocket.refused", extra={"error": "no stream id in time"})
        except (ConnectionError, OSError):
            reason = "eof"
        except asyncio.CancelledError:
            reason = "stopped"
            raise
        finally:
            self._connections.discard(task)
            if stream is not None:
                stream.closed(reason)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _pump(self, reader: asyncio.StreamReader, stream: Stream) -> str:
        while True:
            message = await read_message(reader, self.idle_timeout)
            if message is None:
                return "eof"
            if message.kind == KIND_AUDIO:
                if not stream.audio(message.payload):
                    return "cut"
            elif message.kind == KIND_HANGUP:
                return "hangup"
            elif message.kind == KIND_ERROR:
                return "error"
            # DTMF (and a repeated id) carry nothing for transcription.
