"""The live recognizer processes, and the bounded, non-blocking way the event loop talks to them.

Each worker is a spawned process (not forked: the server has threads) running
:func:`callcenter.speech.live_worker.serve`, with its own bounded inbox; a stream stays on the worker
it was opened on (its decoder state lives there). Nothing here ever blocks the event loop:

- sending is ``put_nowait`` on a bounded multiprocessing queue (its feeder thread does the pipe
  writes). A full inbox means the worker is behind real time: :meth:`LivePool.feed` says so, and the
  caller drops that stream (it is transcribed after the call);
- results come back on one queue read by a thread, handed to the loop with
  ``call_soon_threadsafe``.

``streams_per_worker`` bounds how many streams a worker is given (measure it: bench/live_speech.py).
A worker that died is noticed by :meth:`LivePool.dead_streams` (its streams are lost; a new process
takes its place).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from typing import Any

from callcenter.speech import live_worker
from callcenter.speech.live_worker import StreamOptions

log = logging.getLogger(__name__)

INBOX_SECONDS = 3.0  # of audio per stream a worker's inbox holds before the stream counts as behind
CHUNK_SECONDS = 0.1  # audio is sent in chunks of this much (5 AudioSocket frames)

Message = tuple[Any, ...]


class _Worker:
    def __init__(
        self,
        index: int,
        context: Any,
        inbox_size: int,
        outbox: Any,
        preload: int,
        options: StreamOptions | None,
    ) -> None:
        self.index = index
        self.inbox = context.Queue(maxsize=inbox_size)
        self.process = context.Process(
            target=live_worker.serve,
            args=(index, self.inbox, outbox, preload, options),
            name=f"live-{index}",
            daemon=True,
        )
        self.streams: set[str] = set()
        self.ready = False


class LivePool:
    def __init__(
        self, workers: int = 1, streams_per_worker: int = 4, preload: StreamOptions | None = None
    ) -> None:
        self.workers = workers
        self.streams_per_worker = streams_per_worker
        self._preload = preload  # the engine and model the workers load before the first call
        self._context = multiprocessing.get_context("spawn")
        self._outbox: Any = None
        self._workers: list[_Worker] = []
        self._where: dict[str, _Worker] = {}
        self._reader: threading.Thread | None = None
        self._inbox_size = max(8, int(streams_per_worker * INBOX_SECONDS / CHUNK_SECONDS))

    @property
    def capacity(self) -> int:
        """Streams the pool takes at once now: those of the workers that are ready (a worker makes
        its recognizers first, seconds; until then its inbox would only fill up)."""
        return sum(self.streams_per_worker for w in self._workers if w.ready and w.process.is_alive())

    @property
    def open_streams(self) -> int:
        return len(self._where)

    def start(self, on_message: Callable[[Message], None]) -> None:
        """Spawn the workers; ``on_message`` is called on the running loop with each result."""
        loop = asyncio.get_running_loop()
        self._outbox = self._context.Queue()

        def deliver(message: Message) -> None:
            if message[0] == "ready":
                for worker in self._workers:
                    if worker.index == message[1]:
                        worker.ready = True
            on_message(message)

        self._workers = [self._spawn(n) for n in range(self.workers)]
        outbox = self._outbox

        def read() -> None:
            while True:
                try:
                    message = outbox.get()
                except (EOFError, OSError):
                    return
                if message is None:
                    return
                try:
                    loop.call_soon_threadsafe(deliver, message)
                except RuntimeError:  # the loop is closed: the server is stopping
                    return

        self._reader = threading.Thread(target=read, name="live-results", daemon=True)
        self._reader.start()

    def _spawn(self, index: int) -> _Worker:
        # A decoder per stream, made before the first call (both sides of a call may speak at once).
        preload = self.streams_per_worker
        worker = _Worker(index, self._context, self._inbox_size, self._outbox, preload, self._preload)
        worker.process.start()
        return worker

    def open(self, stream_id: str, options: StreamOptions) -> bool:
        """Give the stream to the least loaded worker; False when every worker is full."""
        free = [
            w
            for w in self._workers
            if w.ready and len(w.streams) < self.streams_per_worker and w.process.is_alive()
        ]
        if not free:
            return False
        worker = min(free, key=lambda w: len(w.streams))
        if not self._put(worker, ("open", stream_id, options)):
            return False
        worker.streams.add(stream_id)
        self._where[stream_id] = worker
        return True

    def feed(self, stream_id: str, pcm: bytes) -> bool:
        """Audio for the stream; False when its worker is behind (the stream should be dropped)."""
        worker = self._where.get(stream_id)
        return worker is not None and self._put(worker, ("audio", stream_id, pcm))

    def pause(self, stream_id: str) -> bool:
        worker = self._where.get(stream_id)
        return worker is not None and self._put(worker, ("pause", stream_id))

    def close(self, stream_id: str) -> None:
        worker = self._where.pop(stream_id, None)
        if worker is None:
            return
        worker.streams.discard(stream_id)
        if not self._put(worker, ("close", stream_id)):
            # A worker that far behind: its state for the stream is dropped when it restarts, or
            # with its next close; nothing of it leaves (no words of a closed stream are shown).
            log.warning("live.close_not_sent", extra={"stream": stream_id, "worker": worker.index})

    @staticmethod
    def _put(worker: _Worker, message: Message) -> bool:
        try:
            worker.inbox.put_nowait(message)
        except queue.Full:
            return False
        except (ValueError, OSError):  # closed
            return False
        return True

    def dead_streams(self) -> list[str]:
        """Streams of workers that died; each dead worker is replaced."""
        lost: list[str] = []
        for n, worker in enumerate(self._workers):
            if worker.process.is_alive():
                continue
            log.error("live.worker_died", extra={"worker": worker.index, "exitcode": worker.process.exitcode})
            lost.extend(worker.streams)
            for stream_id in worker.streams:
                self._where.pop(stream_id, None)
            self._workers[n] = self._spawn(worker.index)
        return lost

    def stop(self) -> None:
        """Blocking (run it in a thread): the workers stop after what they have, or are killed."""
        workers, self._workers = self._workers, []
        for worker in workers:
            self._put(worker, ("stop",))
        for worker in workers:
            worker.process.join(5.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5.0)
            worker.inbox.cancel_join_thread()
            worker.inbox.close()
        self._where.clear()
        if self._outbox is not None:
            self._outbox.put(None)
            if self._reader is not None:
                self._reader.join(5.0)
            self._outbox.close()
            self._outbox = None
