"""The test phones' receive buffer (tests/sip.py): audio plays in timestamp order within a stream,
and a jump of the timestamps (Asterisk handing the call to another source) re-anchors it instead
of writing the new audio where it is never read."""

from __future__ import annotations

from tests.sip import FRAME, ReceiveBuffer


def frame(byte: int) -> bytes:
    return bytes([byte]) * FRAME


def test_a_stream_plays_in_order_and_a_gap_is_silence() -> None:
    buf = ReceiveBuffer()
    buf.write(1000, frame(1))
    buf.write(1000 + 2 * FRAME, frame(3))  # one frame lost
    buf.write(1000 + FRAME, frame(2))  # arrives late but before it is read
    assert [buf.read(FRAME) for _ in range(4)] == [frame(1), frame(2), frame(3), frame(0x80)]
    assert buf.resyncs == 0


def test_a_new_source_behind_the_reader_plays_next() -> None:
    buf = ReceiveBuffer()
    for k in range(100):
        buf.write(500_000 + k * FRAME, frame(1))
    for _ in range(100):
        buf.read(FRAME)
    buf.write(7_000, frame(2))  # pyVoIP wrote this 493,000 samples behind its reader
    buf.write(7_000 + FRAME, frame(3))
    assert [buf.read(FRAME), buf.read(FRAME)] == [frame(2), frame(3)]
    assert buf.resyncs == 1


def test_a_new_source_far_ahead_plays_next_not_seconds_later() -> None:
    buf = ReceiveBuffer()
    buf.write(10, frame(1))
    buf.read(FRAME)
    buf.write(10 + FRAME + 40_000, frame(2))  # 5 s ahead
    assert buf.read(FRAME) == frame(2)
    assert buf.resyncs == 1


def test_timestamps_wrapping_around_are_one_stream() -> None:
    buf = ReceiveBuffer()
    start = 2**32 - FRAME
    buf.write(start, frame(1))
    buf.write(0, frame(2))
    assert [buf.read(FRAME), buf.read(FRAME)] == [frame(1), frame(2)]
    assert buf.resyncs == 0
