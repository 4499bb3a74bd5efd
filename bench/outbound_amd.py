"""How well Asterisk's answering-machine detection (app_amd, as campaigns use it) tells people from
machines, on greetings synthesised here: short human answers ("Hello?", "Yes?", then the silence
of someone waiting) and machine greetings (a sentence or three, then the beep's silence), each said
by every flite voice.

Each greeting is one call on the sandbox: an Originate of ``Local/s@cc-amd-bench-greeting/n``,
whose far half plays the greeting (8 kHz, 0.3 s of silence before it) while the near half runs
``AMD()`` as ``cc-outbound`` does and reports its verdict (a ``CCAmdBench`` UserEvent). Run twice:
with the shipped settings (asterisk_conf/amd.conf, Asterisk's defaults) and, to compare in the same
run, with ``maximum_number_of_words`` 3 instead of 2 (an ``AMD()`` argument: AMI's Originate
splits variable values on commas, so one setting travels, the others stay amd.conf's).

    .venv/bin/python bench/outbound_amd.py [--parallel 8] [--keep]

Prints, per setting: each class's verdicts (HUMAN / MACHINE / NOTSURE), the accuracy (NOTSURE is
counted as taken for a person, as the placer does), the machines taken for people (an agent gets a
machine) and the people taken for machines (a person hung up on), and the greetings misjudged.
Needs root, flite and sox; starts its own sandbox instance ("amd", ports moved by CC_TEST_SLOT).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.asterisk import ami_events
from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.asterisk_port import Dialplan, OriginateRequest
from callcenter.asterisk.sandbox import AsteriskSandbox
from callcenter.settings import Settings, load_settings
from tests.conftest import instance, port

VOICES = ("kal", "kal16", "awb", "rms", "slt")
HUMAN = (
    "Hello?",
    "Yes?",
    "Hello, who is this?",
    "Hi, this is Anna.",
    "Smith residence.",
)
MACHINE = (
    "Hi, you have reached Anna. I can't take your call right now. Please leave a message after the tone.",
    "Thank you for calling. Nobody is available to take your call. Please leave your name and number.",
    "The person you are calling is not available. At the tone, please record your message.",
    "Hello, you have reached the Smith family. We are not home right now, so leave a message.",
    "Hi, it's Mark. Leave a message.",
)
# Seconds of silence after the greeting: a person waits for an answer; a machine beeps and records.
AFTER = {"human": 3.0, "machine": 1.0}
SETTINGS = {
    "shipped (amd.conf: Asterisk's defaults)": "",
    "maximum_number_of_words 3": "3",
}
SUB = "amd-bench"  # under the sandbox's sounds/en/callcenter


def settings() -> Settings:
    return load_settings(
        environ={},
        overrides={
            "asterisk": {
                "sandbox_instance": instance("amd"),
                "sip_port": port(19260),
                "ami_port": port(19238),
                "rtp_port_start": port(19300),
                "rtp_port_end": port(19399),
            },
            "agi": {"port": port(19773)},
        },
    )


def synthesise(target: Path) -> list[tuple[str, str, str]]:
    """(sound name, class, text) of every greeting, rendered into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, texts in (("human", HUMAN), ("machine", MACHINE)):
            for n, text in enumerate(texts):
                for voice in VOICES:
                    name = f"{kind}-{n}-{voice}"
                    raw = Path(tmp) / f"{name}.wav"
                    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
                    out = str(target / f"{name}.wav")
                    pad = ["pad", "0.3", str(AFTER[kind])]
                    subprocess.run(
                        ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", out, *pad], check=True
                    )
                    made.append((f"callcenter/{SUB}/{name}", kind, text))
    return made


async def run(
    ami: AmiClient, greetings: list[tuple[str, str, str]], args: str, parallel: int
) -> dict[str, str]:
    """Each greeting's AMD verdict (``STATUS/CAUSE``)."""
    verdicts: dict[str, str] = {}
    waiting: dict[str, asyncio.Future[str]] = {}

    def on_event(event: ami_events.AmiEvent) -> None:
        if isinstance(event, ami_events.UserEvent) and event.name == "CCAmdBench":
            found = waiting.get(event.headers.get("Greeting", ""))
            if found is not None and not found.done():
                found.set_result(f"{event.headers.get('Status', '')}/{event.headers.get('Cause', '')}")

    ami.subscribe(on_event)
    queue = iter(greetings)

    async def worker() -> None:
        for sound, _kind, _text in queue:
            waiting[sound] = asyncio.get_running_loop().create_future()
            await ami.originate(
                OriginateRequest(
                    endpoint="Local/s@cc-amd-bench-greeting/n",
                    target=Dialplan("cc-amd-bench"),
                    ring_timeout=10,
                    variables={"__CC_GREETING": sound, "__CC_AMD_WORDS": args},
                    wait=False,
                )
            )
            try:
                verdicts[sound] = await asyncio.wait_for(waiting[sound], 20)
            except TimeoutError:
                verdicts[sound] = "TIMEOUT/"

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return verdicts


def report(title: str, greetings: list[tuple[str, str, str]], verdicts: dict[str, str]) -> float:
    print(f"\n== {title}")
    right = 0
    wrong: list[str] = []
    for kind in ("human", "machine"):
        said = Counter(verdicts[s].split("/")[0] for s, k, _ in greetings if k == kind)
        print(f"  {kind:8} greetings: " + ", ".join(f"{v} {n}" for v, n in sorted(said.items())))
    for sound, kind, text in greetings:
        status = verdicts[sound].split("/")[0]
        taken = "machine" if status == "MACHINE" else "human"  # NOTSURE: taken for a person
        if taken == kind:
            right += 1
        else:
            wrong.append(f"    {kind:7} -> {verdicts[sound]:28} {sound.rsplit('/', 1)[-1]:16} {text[:50]!r}")
    total = len(greetings)
    machines = sum(1 for _s, k, _t in greetings if k == "machine")
    humans = total - machines
    m_as_h = sum(1 for w in wrong if w.strip().startswith("machine"))
    h_as_m = len(wrong) - m_as_h
    accuracy = right / total
    print(
        f"  accuracy {right}/{total} = {accuracy:.1%}; machines taken for people {m_as_h}/{machines}, "
        f"people taken for machines {h_as_m}/{humans}"
    )
    for line in wrong:
        print(line)
    return accuracy


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="leave the sandbox instance running")
    options = parser.parse_args(argv)
    sandbox = AsteriskSandbox(settings())
    sandbox.fresh(timeout=120)
    greetings = synthesise(sandbox.prompts_dir() / SUB)
    print(f"{len(greetings)} greetings ({len(VOICES)} flite voices), {options.parallel} calls at once")
    ami = AmiClient(sandbox.settings.asterisk)
    await ami.start()
    try:
        if not await ami.wait_connected(20):
            raise RuntimeError("no AMI login")
        for title, args in SETTINGS.items():
            started = time.monotonic()
            verdicts = await run(ami, greetings, args, options.parallel)
            report(title, greetings, verdicts)
            print(f"  ({time.monotonic() - started:.0f} s)")
    finally:
        await ami.stop()
        if not options.keep:
            sandbox.down()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
