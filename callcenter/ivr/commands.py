"""``callcenter ivr validate | simulate | test``: the admin's tools, usable in CI (exit code 1 on any
problem or failed case, 0 otherwise)."""

from __future__ import annotations

import argparse
import functools
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from callcenter.core.ivr import model as m
from callcenter.ivr import flowtest, loader, prompts
from callcenter.ivr.simulate import HttpMock, KbMock, simulate, simulate_chat
from callcenter.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ivr = sub.add_parser("ivr", help="IVR flows: validate, simulate, test")
    actions = ivr.add_subparsers(dest="ivr_command", required=True)
    validate = actions.add_parser("validate", help="check flow files; every problem as file:line:column")
    validate.add_argument(
        "paths", nargs="*", type=Path, help="flow files or directories (default: ivr.flows_dir)"
    )
    validate.add_argument("--audio", action="store_true", help="also check that every prompt's audio exists")
    validate.add_argument(
        "--render", action="store_true", help="render missing text-to-speech prompts (implies --audio)"
    )
    sim = actions.add_parser("simulate", help="run a flow without Asterisk and print each step")
    sim.add_argument("flow", help="a flow name, or a flow file (its directory is loaded)")
    sim.add_argument("--caller", default="", help="the caller's number")
    sim.add_argument("--dialed", default="", help="the number the caller dialled")
    sim.add_argument(
        "--input",
        action="append",
        default=[],
        help="keys for the next question; with --chat, the customer's next message (repeatable)",
    )
    sim.add_argument("--chat", action="store_true", help="run it as on web chat or messaging")
    sim.add_argument("--language", help="with --chat: the conversation's language")
    sim.add_argument(
        "--kb",
        action="append",
        default=[],
        metavar="WORDS=ANSWER",
        help="with --chat: a question holding WORDS gets ANSWER from the knowledge base",
    )
    sim.add_argument(
        "--no-agents",
        action="store_true",
        help="with --chat: an agents node finds nobody logged in (the offline form)",
    )
    sim.add_argument("--now", help="the time, ISO 8601 with offset (default: now)")
    sim.add_argument(
        "--http",
        action="append",
        default=[],
        metavar="URL=STATUS[:JSON]",
        help="mock an HTTP GET: 'https://x/a/1=200:{\"vip\": true}' or 'https://x/a/1=timeout'",
    )
    test = actions.add_parser("test", help="run the flow tests (*.test.yaml) beside the flows")
    test.add_argument(
        "paths", nargs="*", type=Path, help="flow/test files or directories (default: ivr.flows_dir)"
    )
    test.add_argument("-v", "--verbose", action="store_true", help="print each case's steps")


def main(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    namer = functools.partial(_namer, settings.ivr.tts_voice)
    if args.ivr_command == "validate":
        paths = args.paths or [_flows_dir(settings)]
        flows, problems = loader.load(paths, namer)
        if args.render and not problems:
            try:
                rendered = prompts.render_all(flows, settings.ivr.prompts_dir, settings.ivr.tts_voice)
            except (prompts.PromptError, OSError) as err:
                print(f"error: {err}", file=out)
                return 1
            print(f"{rendered} prompt(s) rendered into {settings.ivr.prompts_dir}", file=sys.stderr)
        if (args.audio or args.render) and not problems:
            problems = prompts.missing_audio(flows, settings.ivr.prompts_dir, settings.ivr.sound_dirs)
        for problem in problems:
            print(problem, file=out)
        files = len(loader.flow_files(paths))
        print(f"{len(problems)} problem(s) in {files} file(s)", file=sys.stderr)
        return 1 if problems else 0
    if args.ivr_command == "simulate":
        return _simulate(args, settings, namer, out)
    return _test(args, settings, namer, out)


def _namer(voice: str, text: str, language: str) -> str:
    return prompts.sound_name(text, language, voice)


def _flows_dir(settings: Settings) -> Path:
    return settings.ivr.flows_dir or Path("ivr_flows")


def _load(paths: list[Path], namer: loader.SoundNamer, out: TextIO) -> m.FlowSet | None:
    flows, problems = loader.load(paths, namer)
    for problem in problems:
        print(problem, file=out)
    return None if problems else flows


def _simulate(args: argparse.Namespace, settings: Settings, namer: loader.SoundNamer, out: TextIO) -> int:
    given = Path(args.flow)
    if given.suffix in (".yaml", ".yml") and given.exists():
        directory, name = given.parent, given.name.split(".")[0]
    else:
        directory, name = _flows_dir(settings), args.flow
    flows = _load([directory], namer, out)
    if flows is None:
        return 1
    if name not in flows.flows:
        print(
            f"no flow named {name!r} in {directory} (there are: {', '.join(sorted(flows.flows))})", file=out
        )
        return 1
    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("--now needs a UTC offset, e.g. 2026-01-05T09:30:00+01:00")
        mocks = [_http_mock(spec) for spec in args.http]
        if args.chat and "chat" not in flows.flows[name].channels:
            raise ValueError(f"flow {name!r} does not run on chat")
    except ValueError as err:
        print(f"error: {err}", file=out)
        return 2
    if args.chat:
        return _simulate_chat(args, flows, name, now, mocks, out)
    sim = simulate(
        flows, name, now=now, caller=args.caller, dialed=args.dialed, inputs=args.input, http=mocks
    )
    for line in sim.lines:
        print(line, file=out)
    if sim.dropped_at:
        print(f"outcome: caller hung up at {'.'.join(sim.dropped_at)}", file=out)
    elif sim.finish:
        f = sim.finish
        print(
            f"outcome: {f.outcome}" + (f" queue={f.queue} priority={f.priority}" if f.queue else ""), file=out
        )
        if f.skills:
            print(f"skills: {', '.join(f.skills)}", file=out)
        print(f"language: {f.language}", file=out)
        for key, value in f.data.items():
            print(f"data: {key}={value}", file=out)
    if sim.unused_inputs:
        print(f"unused inputs: {sim.unused_inputs}", file=out)
    return 0


def _simulate_chat(
    args: argparse.Namespace, flows: m.FlowSet, name: str, now: datetime, mocks: list[HttpMock], out: TextIO
) -> int:
    kb = [KbMock(*spec.split("=", 1)) for spec in args.kb if "=" in spec]
    sim = simulate_chat(
        flows,
        name,
        now=now,
        caller=args.caller,
        inputs=args.input,
        http=mocks,
        kb=kb,
        language=args.language,
        agents_available=not args.no_agents,
    )
    for line in sim.lines:
        print(line, file=out)
    print(f"outcome: {sim.outcome}", file=out)
    for key, value in sim.variables.items():
        print(f"data: {key}={value}", file=out)
    return 0


def _http_mock(spec: str) -> HttpMock:
    import json

    url, sep, answer = spec.rpartition("=")
    if not sep or not url:
        raise ValueError(f"--http {spec!r}: expected URL=STATUS[:JSON] or URL=timeout")
    status, _, body = answer.partition(":")
    if not status.isdigit():
        return HttpMock(url, error=answer)
    try:
        return HttpMock(url, status=int(status), body=json.loads(body) if body else None)
    except json.JSONDecodeError as err:
        raise ValueError(f"--http {spec!r}: the body is not JSON ({err})") from err


def _test(args: argparse.Namespace, settings: Settings, namer: loader.SoundNamer, out: TextIO) -> int:
    paths = args.paths or [_flows_dir(settings)]
    directories = sorted({p if p.is_dir() else p.parent for p in paths})
    flows = _load(directories, namer, out)
    if flows is None:
        return 1
    files = flowtest.find_test_files(paths)
    failed = total = 0
    for file in files:
        for case in flowtest.run_file(flows, file):
            total += 1
            status = "ok" if case.passed else "FAIL"
            print(f"{status:4} {case.file}: {case.name}", file=out)
            for failure in case.failures:
                print(f"       {failure}", file=out)
            if (args.verbose or not case.passed) and case.simulation is not None:
                for line in case.simulation.lines:
                    print(f"       | {line}", file=out)
            failed += not case.passed
    print(f"{total - failed} passed, {failed} failed ({len(files)} test file(s))", file=out)
    return 1 if failed or not total else 0
