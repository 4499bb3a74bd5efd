"""Real calls for load tests: a second sandbox Asterisk plays the callers and the agents' phones.

The server runs as in production (its own sandbox Asterisk, FastAGI menu, our ACD, recording).
The *generator* is another instance of the same sandbox root, configured from
``bench/load_asterisk/`` (not ``asterisk_conf/``): one PJSIP endpoint, ``server``, trunked to the
server's Asterisk over loopback. Callers are originated from the generator to the inbound number
(authenticating as the trunk user); the generator registers as every agent's phone, so the
server's agent calls ring there, are answered after ``agent_answer_seconds`` and hear audio.

What is measured comes from the two Asterisks' own AMI event timestamps (``timestampevents``):

* **dead air**: the generator's caller was answered (``LoadAnswered``) until it heard the first
  audio of the menu (``LoadHeard``, ``WaitForNoise``), less the noise it needed to hear;
* **keypress to agent dial**: on the server's Asterisk, the caller's key (``DTMFEnd``) until the
  agent's channel was created (``Newchannel`` of the leg bridged with that caller).

With an AMI user of the server's Asterisk that also reads ``dialplan`` events (bench/load.py adds
one), each call also records when the server's Asterisk started playing the opening menu
(``Newexten`` of ``Read`` in ``cc-opening``) and every agent leg the server dialled for it
(``VarSet`` of ``CC_CALLER_CHANNEL`` on the agent's channel), so that a failed call is blamed on
the server or on the generator (``blame``): e.g. "no menu heard within 20 s" while the server's
Asterisk had started the menu 0.5 s after the answer is the generator's caller not hearing it
(a starved generator), not a slow server.

The caller presses its key once the menu has gone quiet, stays with the agent for ``talk_seconds``
and hangs up. A call *completed* when it was bridged with an agent and hung up by its caller; a
step is then checked from outside: channels left on either Asterisk (``core show channels``) and the
server's interaction records (every call closed with an outcome).

Used by bench/load.py (steps and soak) and tests/e2e/test_load_short.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import secrets
import statistics
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.asterisk.sandbox import DEFAULT_CONF_DIR, AsteriskSandbox
from callcenter.settings import Settings

GENERATOR_CONF_DIR = Path(__file__).resolve().parent / "load_asterisk"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class GeneratorSandbox(AsteriskSandbox):
    """The load generator's Asterisk: ``bench/load_asterisk/`` rendered with the generator's own
    settings (instance, ports, AMI user) plus where the server's Asterisk listens."""

    def __init__(
        self,
        settings: Settings,
        *,
        server_sip_port: int,
        dtmf_mode: str = "rfc4733",
        agent_answer_seconds: float = 1.0,
    ) -> None:
        # The prompts file is the server's: the sandbox keeps the shared root's prompts in step
        # with it (and deletes those it does not list), so the generator must name the same one.
        super().__init__(
            settings, conf_dir=GENERATOR_CONF_DIR, prompts_file=DEFAULT_CONF_DIR / "prompts.yaml"
        )
        if dtmf_mode not in ("rfc4733", "inband"):
            raise ValueError(f"dtmf_mode must be rfc4733 or inband, not {dtmf_mode!r}")
        self.extra = {
            "SERVER_SIP_PORT": str(server_sip_port),
            "DTMF_MODE": dtmf_mode,
            "AGENT_ANSWER_SECONDS": f"{agent_answer_seconds:g}",
        }

    def template_values(self) -> dict[str, str]:
        values = super().template_values()
        values.update(self.extra)
        # The agent blocks were rendered before the extra values were known.
        blocks = values["AGENT_ENDPOINTS"]
        for name, value in self.extra.items():
            blocks = blocks.replace("${" + name + "}", value)
        values["AGENT_ENDPOINTS"] = blocks
        return values


def channel_count(sandbox: AsteriskSandbox) -> int:
    """Active channels of an instance (``core show channels count``)."""
    found = re.search(r"(\d+) active channels?", sandbox.cli("core show channels count", timeout=10))
    return int(found.group(1)) if found else -1


def channels(sandbox: AsteriskSandbox) -> list[str]:
    """The active channels, one line each: name, context, extension, state, application."""
    out = sandbox.cli("core show channels concise", timeout=10)
    return [":".join(line.split("!")[:6]) for line in out.splitlines() if "!" in line]


def contact_count(sandbox: AsteriskSandbox) -> int:
    found = re.search(r"Objects found: (\d+)", sandbox.cli("pjsip show contacts", timeout=10))
    return int(found.group(1)) if found else 0


# ---------------------------------------------------------------------------------- AMI


Event = dict[str, str]


class Ami:
    """A minimal AMI client: log in, send actions (repeated headers allowed), hand every event to
    ``on_event``. Headers keep AMI's spelling; repeated event headers keep the first value."""

    def __init__(self, host: str, port: int, username: str, secret: str, on_event: Callable[[Event], None]):
        self.host, self.port, self.username, self.secret = host, port, username, secret
        self.on_event = on_event
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Event]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        await self._reader.readline()  # banner
        self._task = asyncio.create_task(self._read_loop())
        reply = await self.action("Login", Username=self.username, Secret=self.secret)
        if reply.get("Response") != "Success":
            raise RuntimeError(f"AMI login to {self.host}:{self.port} refused: {reply.get('Message')}")

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.action("Logoff"), 2)
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def send(
        self, action: str, headers: Iterable[tuple[str, str]] = (), **fields: str
    ) -> asyncio.Future[Event]:
        """Send an action; the future is its Response."""
        assert self._writer is not None, "not connected"
        action_id = f"a{next(self._ids)}"
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        lines += [f"{k}: {v}" for k, v in fields.items()]
        lines += [f"{k}: {v}" for k, v in headers]
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return future

    async def action(self, action: str, headers: Iterable[tuple[str, str]] = (), **fields: str) -> Event:
        return await asyncio.wait_for(self.send(action, headers, **fields), 10)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        message: Event = {}
        while True:
            raw = await self._reader.readline()
            if not raw:
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(ConnectionError("AMI connection closed"))
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            if line:
                key, sep, value = line.partition(":")
                if sep:
                    message.setdefault(key.strip(), value.strip())
                continue
            if not message:
                continue
            if "Response" in message:
                key = message.get("ActionID", "")
                waiter = self._pending.pop(key) if key in self._pending else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
            elif "Event" in message:
                self.on_event(message)
            message = {}


def stamp(event: Event) -> float:
    """The event's own time (``Timestamp``, seconds.microseconds; timestampevents = yes)."""
    return float(event["Timestamp"])


# ---------------------------------------------------------------------------------- calls


@dataclass
class CallTrace:
    """One generated call, as both Asterisks saw it. Times are Asterisk event timestamps."""

    id: str
    originated: float  # time.time() when the bench asked for it
    gen_channel: str | None = None
    answered: float | None = None
    heard: float | None = None
    pressed: float | None = None
    srv_channel: str | None = None
    key_at: float | None = None  # the server's DTMFEnd
    agent_channel: str | None = None
    agent_dialed: float | None = None  # the server's Newchannel of the agent leg
    bridged: float | None = None
    srv_menu: float | None = None  # the server's Newexten of Read in cc-opening (the menu starts)
    offers: int = 0  # agent legs the server dialled for this caller (VarSet CC_CALLER_CHANNEL)
    offers_unanswered: int = 0  # ... that hung up without being bridged with it
    hung_up_by_caller: bool = False
    srv_hangup_cause: str | None = None
    failure: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def completed(self) -> bool:
        return self.failure is None and self.bridged is not None and self.hung_up_by_caller


@dataclass(frozen=True)
class CallPlan:
    """How every generated call behaves."""

    inbound_number: str
    trunk_username: str
    key: str = "1"
    talk_seconds: float = 10.0
    agent_timeout: float = 60.0  # from the originate until bridged with an agent
    noise_ms: int = 100  # WaitForNoise: this much audio means the menu is heard
    silence_ms: int = 1000  # then this much quiet means the menu has finished: press the key
    menu_wait: int = 20  # seconds WaitForNoise / WaitForSilence wait at most


class LoadCalls:
    """Originates callers on the generator and follows them on both Asterisks' AMI."""

    def __init__(
        self,
        generator_ami: tuple[str, int, str, str],
        server_ami: tuple[str, int, str, str],
        plan: CallPlan,
        agent_extensions: Iterable[str],
    ) -> None:
        self.plan = plan
        self.gen = Ami(*generator_ami, on_event=self._gen_event)
        self.srv = Ami(*server_ami, on_event=self._srv_event)
        self.calls: dict[str, CallTrace] = {}
        self._by_gen_channel: dict[str, CallTrace] = {}
        self._by_srv_channel: dict[str, CallTrace] = {}
        self._agent_prefixes = tuple(f"PJSIP/{ext}-" for ext in agent_extensions)
        self._agent_created: dict[str, float] = {}
        self._offered: dict[str, CallTrace] = {}  # agent channel -> the caller it was dialled for
        self._bridges: dict[str, set[str]] = {}
        self._run = secrets.token_hex(3)
        self._numbers = itertools.count(1)
        self._timers: list[asyncio.TimerHandle] = []

    async def start(self) -> None:
        await self.gen.connect()
        await self.srv.connect()

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        await self.gen.close()
        await self.srv.close()

    # -------------------------------------------------------------- placing calls

    async def call(self) -> CallTrace:
        """Originate one caller; returns its trace (``done`` is set when it is over)."""
        plan = self.plan
        trace = CallTrace(id=f"load-{self._run}-{next(self._numbers)}", originated=time.time())
        self.calls[trace.id] = trace
        variables = {
            "LOAD_ID": trace.id,
            "LOAD_KEY": plan.key,
            "LOAD_NOISE_MS": str(plan.noise_ms),
            "LOAD_SILENCE_MS": str(plan.silence_ms),
            "LOAD_WAIT": str(plan.menu_wait),
        }
        try:
            reply = await self.gen.action(
                "Originate",
                [("Variable", f"{k}={v}") for k, v in variables.items()],
                Channel=f"PJSIP/{plan.inbound_number}@server",
                Context="load-caller",
                Exten="s",
                Priority="1",
                CallerID=f'"{trace.id}" <{plan.trunk_username}>',
                ChannelId=trace.id,
                Timeout="30000",
                Async="true",
            )
        except TimeoutError:
            # The generator's Asterisk did not even answer (a starved machine): a failed call of the
            # step, not an exception that silently drops the call from the figures.
            self._fail(trace, "the generator's Asterisk did not answer the Originate within 10 s")
            return trace
        if reply.get("Response") != "Success":
            self._fail(trace, f"originate refused: {reply.get('Message')}")
            return trace
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(plan.agent_timeout, self._too_late, trace))
        return trace

    def _too_late(self, trace: CallTrace) -> None:
        if trace.bridged is None and not trace.done.is_set():
            self._fail(
                trace,
                f"no agent within {self.plan.agent_timeout:g} s"
                f" (menu heard: {trace.heard is not None}, key sent: {trace.pressed is not None},"
                f" key seen by the server: {trace.key_at is not None})",
            )

    def _fail(self, trace: CallTrace, why: str) -> None:
        if trace.failure is None and not trace.done.is_set():
            trace.failure = why
        self._hang_up(trace)
        if trace.gen_channel is None:
            trace.done.set()

    def _hang_up(self, trace: CallTrace) -> None:
        if trace.gen_channel is not None:
            self.gen.send("Hangup", Channel=trace.gen_channel)

    # -------------------------------------------------------------- events

    def _gen_event(self, event: Event) -> None:
        name = event.get("Event")
        if name == "Newchannel":
            trace = self.calls.get(event.get("Uniqueid", ""))
            if trace is not None:
                trace.gen_channel = event["Channel"]
                self._by_gen_channel[trace.gen_channel] = trace
        elif name == "UserEvent":
            trace = self.calls.get(event.get("Id", ""))
            if trace is None:
                return
            kind = event.get("UserEvent")
            if kind == "LoadAnswered":
                trace.answered = stamp(event)
            elif kind == "LoadHeard":
                if event.get("Status") == "NOISE":
                    trace.heard = stamp(event)
                else:
                    self._fail(trace, f"no menu heard within {self.plan.menu_wait} s ({event.get('Status')})")
            elif kind == "LoadPressed":
                trace.pressed = stamp(event)
        elif name == "OriginateResponse":
            trace = self.calls.get(event.get("Uniqueid", "")) or self.calls.get(event.get("ChannelId", ""))
            if trace is not None and event.get("Response") != "Success":
                self._fail(trace, f"not answered (reason {event.get('Reason')})")
                trace.done.set()
        elif name == "Hangup":
            trace = self._by_gen_channel.get(event.get("Channel", ""))
            if trace is None:
                return
            if trace.bridged is None and trace.failure is None:
                trace.failure = (
                    f"hung up before an agent (server cause {trace.srv_hangup_cause or '?'},"
                    f" menu heard: {trace.heard is not None},"
                    f" key seen by the server: {trace.key_at is not None})"
                )
            trace.done.set()

    def _srv_event(self, event: Event) -> None:
        name = event.get("Event")
        channel = event.get("Channel", "")
        if name in ("Newchannel", "NewCallerid"):
            trace = self.calls.get(event.get("CallerIDName", ""))
            if trace is not None and trace.srv_channel is None:
                trace.srv_channel = channel
                self._by_srv_channel[channel] = trace
            elif name == "Newchannel" and channel.startswith(self._agent_prefixes):
                self._agent_created[channel] = stamp(event)
        elif name == "Newexten":
            trace = self._by_srv_channel.get(channel)
            if (
                trace is not None
                and trace.srv_menu is None
                and event.get("Context") == "cc-opening"
                and event.get("Application") == "Read"
            ):
                trace.srv_menu = stamp(event)
        elif name == "VarSet":
            if event.get("Variable") == "CC_CALLER_CHANNEL" and channel.startswith(self._agent_prefixes):
                trace = self._by_srv_channel.get(event.get("Value", ""))
                if trace is not None and channel not in self._offered:
                    self._offered[channel] = trace
                    trace.offers += 1
        elif name == "DTMFEnd":
            trace = self._by_srv_channel.get(channel)
            if trace is not None and trace.key_at is None and event.get("Direction") == "Received":
                trace.key_at = stamp(event)
        elif name == "BridgeEnter":
            members = self._bridges.setdefault(event.get("BridgeUniqueid", ""), set())
            members.add(channel)
            self._match_bridge(members, stamp(event))
        elif name == "BridgeLeave":
            self._bridges.get(event.get("BridgeUniqueid", ""), set()).discard(channel)
        elif name == "Hangup":
            trace = self._by_srv_channel.get(channel)
            if trace is not None:
                trace.srv_hangup_cause = event.get("Cause-txt") or event.get("Cause")
            self._agent_created.pop(channel, None)
            offered = self._offered.pop(channel, None)
            if offered is not None and offered.agent_channel != channel:
                offered.offers_unanswered += 1

    def _match_bridge(self, members: set[str], at: float) -> None:
        callers = [self._by_srv_channel[c] for c in members if c in self._by_srv_channel]
        agents = [c for c in members if c.startswith(self._agent_prefixes)]
        if len(callers) != 1 or len(agents) != 1:
            return
        trace = callers[0]
        if trace.bridged is not None or trace.done.is_set():
            return
        trace.bridged = at
        trace.agent_channel = agents[0]
        trace.agent_dialed = self._agent_created.get(agents[0])
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(self.plan.talk_seconds, self._caller_hangs_up, trace))

    def _caller_hangs_up(self, trace: CallTrace) -> None:
        if not trace.done.is_set():
            trace.hung_up_by_caller = True
            self._hang_up(trace)


# ---------------------------------------------------------------------------------- the step


@dataclass(frozen=True)
class ProcSample:
    cpu_seconds: float
    rss_kib: int


def proc_sample(pid: int | None) -> ProcSample:
    """CPU seconds (user + system, all threads) and resident memory of ``pid``, from /proc."""
    if pid is None:
        return ProcSample(0.0, 0)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ProcSample(0.0, 0)
    rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return ProcSample((int(stat[11]) + int(stat[12])) / CLK_TCK, int(rss.group(1)) if rss else 0)


class HealthSampler:
    """GETs ``url`` every ``interval`` seconds in a thread (apart from the bench's event loop)."""

    def __init__(self, url: str, interval: float = 0.25) -> None:
        self.url, self.interval = url, interval
        self.latencies: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="healthz-sampler")

    def __enter__(self) -> HealthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as resp:
                    resp.read()
                self.latencies.append(time.perf_counter() - started)
            except OSError:
                self.errors += 1
            self._stop.wait(max(0.0, self.interval - (time.perf_counter() - started)))


def percentiles(values: Sequence[float]) -> tuple[float, float, float] | None:
    """(p50, p90, max), or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return statistics.median(ordered), p90, ordered[-1]


def p99(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


def blame(trace: CallTrace, plan: CallPlan) -> tuple[str, str]:
    """Whose a failed call is: ("server" | "generator" | "unclear", why), from both Asterisks'
    AMI timestamps (the two run on one host: one clock). Needs the dialplan events (``srv_menu``,
    ``offers``); without them a menu or agent failure is "unclear". ``why`` has no figures of the
    call, so that failures group; ``detail`` gives them."""
    why = trace.failure or "not hung up by its caller"
    if trace.failure is None:
        if trace.srv_hangup_cause in ("No user responding", "18"):
            # The server's Asterisk ended the call because a SIP request of it went unanswered:
            # the far end is the generator.
            return "generator", "cut off after its agent: the generator stopped answering SIP (408)"
        return "server", "cut off after its agent, not hung up by its caller"
    if why.startswith("the generator's Asterisk did not answer the Originate"):
        return "generator", why
    if why.startswith("no menu heard"):
        if trace.srv_menu is None:
            if trace.srv_channel is None:
                return "unclear", f"{why}; the server's Asterisk never saw the call"
            return "server", f"{why}; the server's Asterisk never started the menu"
        late = trace.srv_menu - (trace.answered or trace.srv_menu)
        if late < plan.menu_wait - plan.noise_ms / 1000:
            return "generator", (
                f"no menu heard within {plan.menu_wait} s although the server's Asterisk had started"
                " it in time: the generator's caller did not hear it (starved generator)"
            )
        return "server", f"{why}; the server's Asterisk started the menu too late"
    if why.startswith("no agent within"):
        if trace.key_at is None:
            if trace.heard is not None and trace.pressed is None:
                return "generator", f"{why}: the generator's caller never pressed its key"
            return "unclear", why
        if trace.offers and trace.offers_unanswered == trace.offers:
            return "generator", f"{why}: the server dialled agents; the generator's phones answered none"
        if trace.offers == 0 and trace.srv_menu is not None:
            return "server", f"{why}: the server dialled no agent for it"
        return "unclear", f"{why}: some agent legs for it were answered, yet it was never bridged"
    if why.startswith("hung up before an agent"):
        return "server", why
    return "unclear", why


def detail(trace: CallTrace) -> str:
    """One failed call's figures, times relative to the generator's answer (or the originate)."""
    zero = trace.answered or trace.originated

    def at(t: float | None) -> str:
        return "-" if t is None else f"{t - zero:+.1f}s"

    return (
        f"{trace.id}: server menu {at(trace.srv_menu)}, heard {at(trace.heard)}, key sent"
        f" {at(trace.pressed)}, key at server {at(trace.key_at)}, agent legs {trace.offers}"
        f" ({trace.offers_unanswered} unanswered), bridged {at(trace.bridged)},"
        f" server cause {trace.srv_hangup_cause or '-'}"
    )


def dead_air(trace: CallTrace, noise_ms: int) -> float | None:
    if trace.answered is None or trace.heard is None:
        return None
    return max(0.0, trace.heard - trace.answered - noise_ms / 1000)


def key_to_dial(trace: CallTrace) -> float | None:
    if trace.key_at is None or trace.agent_dialed is None:
        return None
    return trace.agent_dialed - trace.key_at


def open_and_closed(records: Iterable[dict[str, Any]], channels: set[str]) -> tuple[int, int, dict[str, int]]:
    """Of the server's interaction records for ``channels``: (open, closed, outcomes)."""
    opened = closed = 0
    outcomes: dict[str, int] = {}
    for record in records:
        if record.get("caller_channel") not in channels:
            continue
        if record.get("outcome") is None:
            opened += 1
        else:
            closed += 1
            outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    return opened, closed, outcomes
