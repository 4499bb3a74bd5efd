"""The service: feeds events into the pure core and hands each command to the adapter that does it.

``handle`` runs the engine synchronously (the event loop makes each call atomic) and returns at once:
dials run as tasks and report back as events; database writes go through one ordered writer so the
routing path never waits for the disk, and a failing database delays writes but loses none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from callcenter import metrics
from callcenter.aio import cancel_and_wait, within
from callcenter.core import events as ev
from callcenter.core.acd.engine import Acd
from callcenter.core.calls import machine as cl
from callcenter.core.commands import (
    AgentStateChanged,
    Announce,
    CancelDial,
    Command,
    DialAgent,
    DialCustomer,
    ExitQueue,
    OfferConversation,
    RecordEvent,
    SaveInteraction,
    WithdrawOffer,
)
from callcenter.core.interaction import Interaction
from callcenter.core.notices import (
    AGENT_LOG_PREFIX,
    AgentStateLogged,
    Notice,
    RecordingPaused,
    RecordingResumed,
)

if TYPE_CHECKING:
    from callcenter.storage.db import StoredEvent
from callcenter.core.acd.queues import Queue

log = logging.getLogger(__name__)


class Store(Protocol):
    async def save_interaction(self, interaction: Interaction) -> None: ...

    async def get_interaction(self, interaction_id: str) -> Interaction | None: ...

    async def recent_interactions(
        self, limit: int = 50, *, queues: Collection[str] | None = None
    ) -> list[Interaction]: ...

    async def add_notice(self, notice: Notice | RecordEvent) -> None: ...

    async def events_for(self, interaction_id: str) -> list[StoredEvent]: ...


@runtime_checkable
class BatchStore(Protocol):
    async def write_batch(self, items: Sequence[SaveInteraction | Notice | RecordEvent]) -> None: ...


WRITE_BATCH = 64  # writes per transaction at most: a bigger batch holds the (SQLite) write lock longer
STORED_WAIT = 5.0  # seconds an acknowledgement waits for its writes (then it goes, the writes later)


class Dialer(Protocol):
    def execute(self, command: DialAgent | CancelDial) -> None: ...


class CallControl(Protocol):
    """Carries out the core's call commands (adapters/call_control.py). The task's result is None,
    or why the command could not be done (reported to the core as a result event either way)."""

    def execute(self, command: cl.CallCommand) -> asyncio.Task[str | None]: ...


@runtime_checkable
class QueueVoice(Protocol):
    """What a voice adapter does for queue features: callbacks, announcements, max-wait exits.

    The Asterisk voice adapter implements it; a dialer that does not gets these commands logged
    (``service.not_wired``) and its callers simply stay on hold.
    """

    def execute_queue(self, command: DialCustomer | Announce | ExitQueue) -> None: ...


class CallCenter:
    def __init__(self, engine: Acd, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.dialer: Dialer | None = None
        self.call_control: CallControl | None = None
        self._controls: list[asyncio.Task[str | None]] | None = None  # those of the current request
        self.listeners: list[Callable[[Command], None]] = []
        # Told of every event before the engine sees it (the session recorder, for replays).
        self.observers: list[Callable[[ev.Event | cl.CallEvent], None]] = []
        self._writes: asyncio.Queue[SaveInteraction | Notice | RecordEvent] = asyncio.Queue()
        # Writes handed to the writer so far, and how many of them (a prefix: the queue is FIFO)
        # are committed; acknowledgements that must not run ahead of the record wait on them.
        self.enqueued = 0
        self._stored = 0
        # The newest snapshot of each interaction whose write is not committed yet, with its place
        # in the queue: an interaction that just ended (or any, while the database is away) is
        # still found by id until its record is stored.
        self._unstored: dict[str, tuple[int, Interaction]] = {}
        self._stored_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="db-writer")
        self._ticker = asyncio.create_task(self._tick_loop(), name="acd-ticker")

    async def stop(self) -> None:
        await cancel_and_wait(self._ticker)
        # Let pending writes land before the database closes.
        try:
            await within(self._writes.join(), 10)
        except TimeoutError:
            log.error("service.writes_not_flushed", extra={"pending": self._writes.qsize()})
        await cancel_and_wait(self._writer)

    def handle(self, event: ev.Event | cl.CallEvent) -> list[Command]:
        """Run one event through the engine; domain errors propagate to the caller."""
        commands = self._decide(event)
        self.dispatch(commands)
        return commands

    def _decide(self, event: ev.Event | cl.CallEvent) -> list[Command]:
        for observe in self.observers:
            observe(event)
        started = time.perf_counter()
        commands = self.engine.handle(event)
        metrics.ENGINE_SECONDS.observe(time.perf_counter() - started)
        return commands

    def reload_queues(self, queues: Mapping[str, Queue]) -> list[Command]:
        """New queue definitions: waiting callers are re-targeted in place and routed again."""
        commands = self.engine.set_queues(queues, self.clock())
        self.dispatch(commands)
        return commands

    async def request(
        self,
        event: cl.Request,
        *,
        before: Callable[[Sequence[Command]], Awaitable[None]] | None = None,
    ) -> None:
        """A call control asked for (the agent panel, a supervisor): the core checks it (a refusal
        raises its :class:`~callcenter.core.errors.DomainError` and changes nothing), the
        call-control adapter carries out the core's commands, and this returns once Asterisk did (or
        raises :class:`~callcenter.core.calls.machine.ControlRefused` with why not; the core heard of
        it too).

        ``before`` runs once the core accepted, given its commands, and before any of them is
        carried out (the supervisor's audit row: no row, no listening). If it raises, no call
        command is carried out (the core hears that each one failed) and its error propagates."""
        commands = self._decide(event)
        if before is not None:
            try:
                await before(commands)
            except BaseException:
                self.dispatch([c for c in commands if not isinstance(c, cl.CALL_COMMANDS)])
                for command in commands:
                    if isinstance(command, cl.CALL_COMMANDS):
                        self.submit(cl.failed(command, "not carried out", self.clock()))
                raise
        self._controls = []
        try:
            self.dispatch(commands)
        finally:
            tasks, self._controls = self._controls, None
        for task in tasks:
            why = await task
            if why is not None:
                raise cl.ControlRefused(why)

    def submit(self, event: ev.Event | cl.CallEvent) -> None:
        """For adapters: like ``handle``, but errors are logged, never raised into the adapter."""
        try:
            self.handle(event)
        except Exception:
            log.exception("service.event_failed", extra={"event": type(event).__name__})

    def dispatch(self, commands: Sequence[Command]) -> None:
        for command in commands:
            match command:
                case DialAgent() | CancelDial():
                    if self.dialer is None:
                        log.error("service.no_dialer", extra={"command": repr(command)})
                    else:
                        self.dialer.execute(command)
                case DialCustomer() | Announce() | ExitQueue():
                    if isinstance(self.dialer, QueueVoice):
                        self.dialer.execute_queue(command)
                    else:
                        log.warning("service.not_wired", extra={"command": repr(command)})
                case cl.HoldCall() | cl.ResumeCall() | cl.HangupCall() | cl.TransferCall() | cl.DropGuest():
                    self._control(command)
                case (
                    cl.OriginateConsult() | cl.BridgeConsult() | cl.CancelConsult() | cl.OriginateConference()
                ):
                    self._control(command)
                case cl.PauseRecording() | cl.ResumeRecording() | cl.SpyCall():
                    self._control(command)
                case SaveInteraction(interaction=i):
                    if i.outcome is not None:
                        _ended(i)
                    self._write_later(command)
                case RecordingPaused() | RecordingResumed():
                    action = "paused" if isinstance(command, RecordingPaused) else "resumed"
                    metrics.RECORDING_PAUSES.labels(action=action).inc()
                    self._write_later(command)
                case Notice() | RecordEvent():
                    self._write_later(command)
                case OfferConversation() | WithdrawOffer():
                    # Shown on (or taken off) the agent's screen by the listeners (agent panel).
                    kind = "offered" if isinstance(command, OfferConversation) else "withdrawn"
                    log.info(
                        f"conversation.{kind}",
                        extra={"interaction": command.interaction_id, "agent": command.agent_id},
                    )
                case AgentStateChanged():
                    # Logged for the historical reports (time per state and pause reason).
                    self._write_later(
                        AgentStateLogged(
                            AGENT_LOG_PREFIX + command.agent_id,
                            command.at,
                            command.agent_id,
                            command.state.value,
                            command.reason,
                        )
                    )
                    log.info(
                        "agent.state",
                        extra={
                            "agent": command.agent_id,
                            "state": command.state.value,
                            "reason": command.reason,
                        },
                    )
            for listener in self.listeners:
                listener(command)
        metrics.observe_engine(self.engine)

    def _control(self, command: cl.CallCommand) -> None:
        if self.call_control is not None:
            task = self.call_control.execute(command)
        else:
            task = asyncio.get_running_loop().create_task(self._no_control(command))
        if self._controls is not None:
            self._controls.append(task)

    async def _no_control(self, command: cl.CallCommand) -> str:
        why = "no connection to Asterisk"
        self.submit(cl.failed(command, why, self.clock()))
        return why

    def _write_later(self, command: SaveInteraction | Notice | RecordEvent) -> None:
        self._writes.put_nowait(command)
        self.enqueued += 1
        if isinstance(command, SaveInteraction):
            self._unstored[command.interaction.id] = (self.enqueued, command.interaction)

    async def interaction(self, interaction_id: str) -> Interaction | None:
        """The interaction as it is now: live in the engine, else its newest snapshot still on its
        way to the database, else as stored."""
        found = self.engine.interactions.get(interaction_id)
        if found is None and interaction_id in self._unstored:
            found = self._unstored[interaction_id][1]
        return found if found is not None else await self.store.get_interaction(interaction_id)

    async def stored(self, upto: int, seconds: float = STORED_WAIT) -> bool:
        """Wait until the first ``upto`` writes are committed (``upto=self.enqueued``: everything
        handed over so far), at most ``seconds``. False if they are not yet (the database is down,
        or the writer is not running): they are kept and written later, the caller goes on."""
        if self._stored >= upto:
            return True
        if self._writer is None or self._writer.done():
            return False
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stored_waiters.append((upto, done))
        try:
            await within(asyncio.shield(done), seconds)
            return True
        except TimeoutError:
            log.warning("service.ack_before_stored", extra={"pending": upto - self._stored})
            return False

    async def _write_loop(self) -> None:
        """Group commit: everything waiting is written in order in one transaction (a store
        without ``write_batch`` gets them one by one). A failed batch is kept and retried whole."""
        delay = 0.5
        while True:
            batch = [await self._writes.get()]
            while len(batch) < WRITE_BATCH and not self._writes.empty():
                batch.append(self._writes.get_nowait())
            while True:
                try:
                    await self._write(batch)
                    delay = 0.5
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    # Keep the writes and retry: a database outage must not lose a call record.
                    log.error(
                        "service.write_failed",
                        extra={"error": str(err), "retry_s": delay, "pending": len(batch)},
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            self._stored += len(batch)
            for command in batch:
                if isinstance(command, SaveInteraction):
                    pending = self._unstored.get(command.interaction.id)
                    if pending is not None and pending[0] <= self._stored:
                        del self._unstored[command.interaction.id]
            still = []
            for upto, done in self._stored_waiters:
                if upto <= self._stored:
                    if not done.done():
                        done.set_result(None)
                else:
                    still.append((upto, done))
            self._stored_waiters = still
            for _ in batch:
                self._writes.task_done()

    async def _write(self, batch: list[SaveInteraction | Notice | RecordEvent]) -> None:
        if isinstance(self.store, BatchStore):
            await self.store.write_batch(batch)
            return
        for command in batch:
            if isinstance(command, SaveInteraction):
                await self.store.save_interaction(command.interaction)
            else:
                await self.store.add_notice(command)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.submit(ev.Tick(self.clock()))


def _ended(i: Interaction) -> None:
    assert i.outcome is not None
    metrics.INTERACTIONS.labels(outcome=i.outcome.value).inc()
    log.info(
        "interaction.ended",
        extra={
            "interaction": i.id,
            "outcome": i.outcome.value,
            "queue": i.queue,
            "agent": i.agent_id,
            "wait_s": i.wait_seconds,
            "talk_s": i.talk_seconds,
        },
    )
