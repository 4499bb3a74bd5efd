"""Looking for the leftover ``Surrogate/...`` channel in ``cc-wait`` (issue 13 #11): the hold -> resume
path of a call, looped quickly on the sandbox with Local channels, no phones and no server.

One round, as the server drives a real call (docs/asterisk.md, "Call controls"):

1. the caller: a Local channel whose ``;1`` half waits in ``cc-wait`` with music on hold, as a real
   caller after the IVR (its ``;2`` half, the caller's phone, plays silence); ``--wait yank``: in
   ``MusicOnHold()`` run directly instead;
2. the agent leg: a Local channel whose ``;1`` half runs ``cc-agent,bridge`` with
   ``CC_CALLER_CHANNEL`` = the caller: its ``Bridge()`` pulls the caller out of ``cc-wait`` (the
   Bridge() of every answered call);
3. hold: one Redirect, the caller to ``cc-hold``, the agent leg to ``cc-held``;
4. resume: the agent leg Redirected to ``cc-agent,resume``, whose ``Bridge()`` pulls the caller off
   hold (``--bridge app``; ``--bridge action``: the AMI ``Bridge`` action instead);
5. the caller hangs up (or the agent: every other round), and the round checks that none of its
   channels is left, Surrogates included.

    .venv/bin/python bench/bridge_leak.py [--rounds 500] [--parallel 8] [--bridge app|action]
        [--wait dialplan|yank]

Since the fix (cc-wait and cc-hold wait in holding bridges, BridgeWait) the shipped dialplan
leaves none; ``--wait yank`` makes the caller wait in ``MusicOnHold()`` as before, which still
does (the reconciler's Surrogate sweep is tested that way: tests/integration/test_surrogate_leftovers.py).

Needs root; starts its own sandbox instance ("leak", SIP/AMI ports 19060/19038 moved by
CC_TEST_SLOT like the tests'). Prints the rounds run, the leftovers found (with ``core show channels``)
and Asterisk's warnings about bridges and masquerades.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.asterisk import ami_events
from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.asterisk_port import AmiError
from callcenter.asterisk.sandbox import AsteriskSandbox
from callcenter.settings import Settings, load_settings
from tests.conftest import instance, port


def settings() -> Settings:
    return load_settings(
        environ={},
        overrides={
            "asterisk": {
                "sandbox_instance": instance("leak"),
                "sip_port": port(19060),
                "ami_port": port(19038),
                "rtp_port_start": port(19100),
                "rtp_port_end": port(19199),
            },
            "agi": {"port": port(19573)},
        },
    )


async def _name(ami: AmiClient, uniqueid: str, seconds: float = 5.0) -> str:
    """The channel name of a uniqueid (AMI accepts either where it wants a channel)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            name = await ami.get_var(uniqueid, "CHANNEL(name)")
        except AmiError:
            name = None
        if name:
            return name
        await asyncio.sleep(0.02)
    raise RuntimeError(f"no channel {uniqueid}")


async def _context(ami: AmiClient, channel: str, wanted: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if await ami.get_var(channel, "CHANNEL(context)") == wanted:
                return
        except AmiError:
            pass
        await asyncio.sleep(0.02)
    raise RuntimeError(f"{channel} never reached {wanted}")


SETTLE = 0.0
TALK = 0.0
BRIDGED: dict[str, int] = {}  # uniqueid -> BridgeEnter events seen


def _on_event(event: object) -> None:
    if isinstance(event, ami_events.BridgeEnter):
        BRIDGED[event.uniqueid] = BRIDGED.get(event.uniqueid, 0) + 1


async def _bridged(uniqueid: str, times: int, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while BRIDGED.get(uniqueid, 0) < times:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{uniqueid} never bridged ({times})")
        await asyncio.sleep(0.02)


async def _state_up(ami: AmiClient, channel: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if await ami.get_var(channel, "CHANNEL(state)") == "Up":
                return
        except AmiError:
            pass
        await asyncio.sleep(0.02)
    raise RuntimeError(f"{channel} never answered")


async def one_round(
    ami: AmiClient, n: int, bridge: str, wait: str = "dialplan", named: list[str] | None = None
) -> str:
    """One call through answer, hold and resume; returns the caller's channel name, also appended
    to ``named`` as soon as it is known (a round that fails later under load may still have left a
    Surrogate: whoever sweeps for them must know that caller too).

    ``wait="dialplan"``: the caller waits in ``cc-wait`` as shipped (a holding bridge);
    ``wait="yank"``: it waits in ``MusicOnHold()`` run directly, as ``cc-wait`` did before issue 13
    #11's fix, so the answer's ``Bridge()`` yanks it (what makes Surrogates)."""
    caller_id, agent_id = f"leakc-{n}", f"leaka-{n}"
    # The ;2 halves answer with Playback() in cc-held (the phones); the ;1 halves run our dialplan.
    where: dict[str, str] = (
        {"Context": "cc-wait", "Exten": "s", "Priority": "1"}
        if wait == "dialplan"
        else {"Application": "MusicOnHold", "Data": "default,3600"}
    )
    await ami.action(
        {
            "Action": "Originate",
            "Channel": "Local/s@cc-held/n",
            **where,
            "ChannelId": caller_id,
            "OtherChannelId": caller_id + "-2",
            "Variable": f"CC_INTERACTION_ID=leak{n}",
            "Async": "true",
        }
    )
    caller = await _name(ami, caller_id)
    if named is not None:
        named.append(caller)
    # Each wait in a holding bridge (BridgeWait: cc-wait as shipped, cc-hold) is a BridgeEnter of
    # the caller's own: count them, so that the round goes on only once the caller is where a real
    # call would be (a person takes seconds to answer or to press resume).
    waits = 0
    if wait == "dialplan":
        waits += 1
        await _bridged(caller_id, waits)
    else:
        await _state_up(ami, caller)
    await ami.action(
        {
            "Action": "Originate",
            "Channel": "Local/s@cc-held/n",
            "Context": "cc-agent",
            "Exten": "bridge",
            "Priority": "1",
            "ChannelId": agent_id,
            "OtherChannelId": agent_id + "-2",
            "Variable": [f"CC_CALLER_CHANNEL={caller}", f"CC_INTERACTION_ID=leak{n}", "CC_AGENT_ID=1001"],
            "Async": "true",
        }
    )
    agent = await _name(ami, agent_id)
    await _bridged(agent_id, 1)
    await _bridged(caller_id, waits + 1)
    # Hold: both leave the bridge with one Redirect.
    await ami.action(
        {
            "Action": "Redirect",
            "Channel": caller,
            "Context": "cc-hold",
            "Exten": "s",
            "Priority": "1",
            "ExtraChannel": agent,
            "ExtraContext": "cc-held",
            "ExtraExten": "s",
            "ExtraPriority": "1",
        }
    )
    await _context(ami, agent, "cc-held")
    waits += 1
    await _bridged(caller_id, waits + 1)  # in cc-hold's holding bridge
    await asyncio.sleep(SETTLE)  # how long the caller is on hold before the resume
    # Resume: the Bridge() that pulls the caller off hold.
    if bridge == "app":
        await ami.action(
            {
                "Action": "Redirect",
                "Channel": agent,
                "Context": "cc-agent",
                "Exten": "resume",
                "Priority": "1",
            }
        )
    else:
        await ami.action({"Action": "Bridge", "Channel1": agent, "Channel2": caller, "Tone": "no"})
    await _bridged(agent_id, 2)
    await _bridged(caller_id, waits + 2)
    # Odd rounds the caller hangs up first, even rounds the agent (then the server hangs the
    # caller up, as call control does when the agent leg ends).
    await asyncio.sleep(TALK)
    first, then = (caller_id, agent_id) if n % 2 else (agent_id, caller_id)
    await ami.hangup(first)
    await asyncio.sleep(0.05)
    try:
        await ami.hangup(then)
    except AmiError:
        pass  # already gone with the other
    return caller


async def leftovers(ami: AmiClient) -> list[str]:
    return [f"{c.channel} ({c.context}, {c.application})" for c in await ami.channels()]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--bridge", choices=["app", "action"], default="app")
    parser.add_argument(
        "--wait",
        choices=["dialplan", "yank"],
        default="dialplan",
        help="the caller waits in cc-wait as shipped, or in MusicOnHold() as before the fix",
    )
    parser.add_argument("--settle", type=float, default=0.0, help="seconds on hold before the resume")
    parser.add_argument("--talk", type=float, default=0.0, help="seconds bridged before the hang-up")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox instance running")
    args = parser.parse_args(argv)
    global SETTLE, TALK
    SETTLE, TALK = args.settle, args.talk

    sandbox = AsteriskSandbox(settings())
    sandbox.fresh(timeout=120)
    ami = AmiClient(sandbox.settings.asterisk)
    ami.subscribe(_on_event)
    await ami.start()
    failures: list[str] = []
    try:
        if not await ami.wait_connected(20):
            raise RuntimeError("no AMI login")
        started = time.monotonic()
        numbers = iter(range(args.rounds))

        async def worker() -> None:
            for n in numbers:
                try:
                    await one_round(ami, n, args.bridge, args.wait)
                except (RuntimeError, AmiError) as err:
                    failures.append(f"round {n}: {err}")
                    # A round that failed a step (e.g. a Redirect refused under load) is not a
                    # leak: end its channels so that "channels left" counts only what leaked.
                    for uid in (f"leakc-{n}", f"leaka-{n}", f"leakc-{n}-2", f"leaka-{n}-2"):
                        try:
                            await ami.hangup(uid)
                        except AmiError:
                            pass

        await asyncio.gather(*(worker() for _ in range(args.parallel)))
        elapsed = time.monotonic() - started
        await asyncio.sleep(3.0)  # hang-ups settle
        left = await leftovers(ami)
        print(
            f"rounds: {args.rounds} ({args.parallel} at a time, bridge by {args.bridge}, wait {args.wait})"
            f" in {elapsed:.0f} s"
        )
        print(f"rounds that failed a step: {len(failures)}")
        for line in failures[:10]:
            print("  " + line)
        print(f"channels left after the rounds: {len(left)}")
        for line in left[:20]:
            print("  " + line)
        # AMI's CoreShowChannels does not list Surrogates: Asterisk's CLI does.
        concise = sandbox.cli("core show channels concise").splitlines()
        surrogates = [line.split("!")[:4] for line in concise if line.startswith("Surrogate/")]
        print(f"Surrogate channels left (core show channels): {len(surrogates)}")
        for name, context, exten, priority in surrogates[:20]:
            print(f"  {name} at {exten}@{context}:{priority}")
        print(sandbox.cli("core show channels count").strip())
        warnings = [
            line
            for line in sandbox.log_file.read_text(errors="replace").splitlines()
            if ("WARNING" in line or "ERROR" in line)
            and ("ridge" in line or "asquerade" in line or "yank" in line)
        ]
        print(f"Asterisk warnings about bridges/masquerades: {len(warnings)}")
        for line in warnings[:10]:
            print("  " + line)
        return 1 if surrogates or left else 0
    finally:
        await ami.stop()
        if not args.keep:
            sandbox.down()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
