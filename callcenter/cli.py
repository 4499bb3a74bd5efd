"""The ``callcenter`` command line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from callcenter import __version__, logs
from callcenter.settings import ConfigError, Settings, load_settings


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``--set asterisk.ami_port=15038`` -> nested overrides (values parsed as YAML scalars)."""
    import yaml

    tree: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw) if raw else ""
    return tree


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-c", "--config", help="YAML configuration file (env CALLCENTER_CONFIG)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set http.port=8081 (repeatable)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the server")
    asterisk = sub.add_parser("asterisk", help="the Asterisk sandbox (Debian sid chroot)")
    asterisk.add_argument("action", choices=["build", "up", "down", "status"])
    db = sub.add_parser("db", help="database")
    db.add_argument("action", choices=["upgrade"])
    config = sub.add_parser("config", help="configuration")
    config.add_argument("action", choices=["check"])
    from callcenter.ivr import commands as ivr_commands

    ivr_commands.add_parser(sub)
    from callcenter.speech import arguments as speech_arguments

    speech_arguments.add_parser(sub)
    from callcenter.accounts import cli as users_cli

    users_cli.add_parser(sub)
    from callcenter.accounts import agents_cli

    agents_cli.add_parser(sub)
    from callcenter.accounts import audit_cli

    audit_cli.add_parser(sub)
    replay = sub.add_parser("replay", help="re-run a recorded Asterisk session through the engine")
    replay.add_argument("file", type=Path, help="a session recording (asterisk.session_recordings)")
    from callcenter.reports import cli as report_cli

    report_cli.add_parser(sub)
    from callcenter.planning import cli as planning_cli

    planning_cli.add_parser(sub)
    from callcenter.planning import schedule_cli

    schedule_cli.add_parser(sub)
    from callcenter.kb import cli as kb_cli

    kb_cli.add_parser(sub)
    from callcenter.outbound import cli as campaign_cli

    campaign_cli.add_parser(sub)
    from callcenter.outbound import callback_cli

    callback_cli.add_parser(sub)
    return parser


def _queues_valid(settings: Settings) -> bool:
    """The queue file and the report schedules, when configured, load; else their problems are
    printed."""
    if settings.acd.queues_file is not None:
        from callcenter.settings.queues_file import load_queues

        try:
            load_queues(settings.acd.queues_file)
        except ConfigError as err:
            print(f"queue definitions error:\n{err}", file=sys.stderr)
            return False
    if settings.report_mail.schedules_file is not None:
        from callcenter.reports.mail_schedule import load_schedules

        try:
            load_schedules(settings.report_mail.schedules_file)
        except ConfigError as err:
            print(f"report schedules error:\n{err}", file=sys.stderr)
            return False
    return True


def _unusable(settings: Settings, path: str | None) -> list[str]:
    """What validates but cannot work, for ``config check``: a database URL of a backend we do
    not drive (``mysql://``), a Redis URL that does not parse, an IVR flows directory that is not
    there, a web identity secret anyone could guess. As ``file:line: key: problem``."""
    from urllib.parse import urlsplit

    from callcenter.settings import line_of, parse_yaml
    from callcenter.settings.textfile import TextFileError, read_text
    from callcenter.storage.db import DatabaseError, parse_url

    found: list[tuple[tuple[str, ...], str]] = []
    try:
        parse_url(settings.database.url)
    except DatabaseError as err:
        found.append((("database", "url"), str(err)))
    redis = settings.realtime.redis_url
    if redis is not None:
        try:
            parts = urlsplit(redis)
            _port = parts.port  # ValueError when it is not a number in 0-65535
            db = parts.path.lstrip("/")
            if not parts.hostname or (db and not db.isdigit()):
                raise ValueError
        except ValueError:
            found.append((("realtime", "redis_url"), "not a usable URL: redis://HOST[:PORT][/DB]"))
    flows = settings.ivr.flows_dir
    if flows is not None and not flows.is_dir():
        found.append((("ivr", "flows_dir"), f"{flows} is not a directory"))
    secret = settings.messaging.web_identity_secret
    if secret is not None and len(secret.get_secret_value()) < 16:
        found.append((("messaging", "web_identity_secret"), "too short: at least 16 random characters"))
    root = None
    if path is not None and found:
        try:
            root = parse_yaml(read_text(path, "configuration"), path, "the configuration")[1]
        except (TextFileError, ConfigError):
            root = None
    problems = []
    for loc, problem in found:
        line = line_of(root, loc) if root is not None else None
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        problems.append(f"{where}{'.'.join(loc)}: {problem}")
    return problems


def _serve(settings: Settings) -> int:
    # The collector is off while the server's modules load: they make about 200,000 objects that
    # live as long as the process, so the collections their allocations trigger free nothing and
    # cost about a seventh of the start-up's CPU (the server freezes them once started: gc_policy).
    gc.disable()
    try:
        from aiohttp import web

        from callcenter.app import create_app
    finally:
        gc.enable()

    if not _queues_valid(settings):  # a clear message, not a traceback from start-up
        return 2

    logging.getLogger("callcenter").info(
        "http.listening", extra={"host": settings.http.host, "port": settings.http.port}
    )
    web.run_app(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        print=None,
        access_log=None,
    )
    return 0


def _exit_now(code: int) -> NoReturn:
    """The end of a server that stopped cleanly (every context it started has been left, so its
    database connections, worker processes and threads are closed): the logs flushed, then out,
    without the interpreter's teardown — full collections over every object the server held,
    about 0.6 s of CPU at each stop or restart, that free nothing the system would not."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


FEATURES = ("report", "kb", "staffing", "simulate", "forecast", "schedule", "campaign", "callback")


def _feature(args: argparse.Namespace, settings: Settings) -> int:
    """``callcenter report|kb|staffing|simulate|forecast|schedule|campaign|callback ...`` (imported
    when used)."""
    if args.command == "report":
        from callcenter.reports import cli as report_cli

        return report_cli.main(args, settings)
    if args.command == "schedule":
        from callcenter.planning import schedule_cli

        return schedule_cli.main(args, settings)
    if args.command in ("staffing", "simulate", "forecast"):
        from callcenter.planning import cli as planning_cli

        return planning_cli.main(args, settings)
    if args.command == "campaign":
        from callcenter.outbound import cli as campaign_cli

        return campaign_cli.main(args, settings)
    if args.command == "callback":
        from callcenter.outbound import callback_cli

        return callback_cli.main(args, settings)
    from callcenter.kb import cli as kb_cli

    return kb_cli.main(args, settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config, overrides=_overrides(args.set))
    except ConfigError as err:
        print(f"configuration error:\n{err}", file=sys.stderr)
        return 2
    logs.configure(settings.logging.level, settings.logging.format)
    if args.command == "serve":
        _exit_now(_serve(settings))
    if args.command == "asterisk":
        from callcenter.asterisk import sandbox

        return sandbox.main(args.action, settings)
    if args.command == "db":
        from callcenter.storage.db import upgrade

        asyncio.run(upgrade(settings.database.url))
        print("database is at the latest schema")
        return 0
    if args.command == "ivr":
        from callcenter.ivr import commands as ivr_commands

        return ivr_commands.main(args, settings)
    if args.command in ("transcribe", "recordings"):
        from callcenter.speech import commands as speech_commands

        if args.command == "transcribe":
            return speech_commands.main_transcribe(args, settings)
        return speech_commands.main_recordings(args, settings)
    if args.command == "user":
        from callcenter.accounts import cli as users_cli

        return users_cli.main(args, settings)
    if args.command == "agent":
        from callcenter.accounts import agents_cli

        return agents_cli.main(args, settings)
    if args.command == "audit":
        from callcenter.accounts import audit_cli

        return audit_cli.main(args, settings)
    if args.command in (
        "report",
        "kb",
        "staffing",
        "simulate",
        "forecast",
        "schedule",
        "campaign",
        "callback",
    ):
        return _feature(args, settings)
    if args.command == "replay":
        from callcenter.asterisk import replay

        return replay.main(args, settings)
    if args.command == "config":
        return _config_check(settings, args.config)
    return 2


def _config_check(settings: Settings, path: str | None) -> int:
    if not _queues_valid(settings):
        return 2
    unusable = _unusable(settings, path)
    if unusable:
        print("configuration error:\n" + "\n".join(unusable), file=sys.stderr)
        return 2
    print("configuration is valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
