"""The ``callcenter`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from callcenter import __version__, logs
from callcenter.config import ConfigError, Settings, load_settings


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
    from callcenter.speech import commands as speech_commands

    speech_commands.add_parser(sub)
    from callcenter import users_cli

    users_cli.add_parser(sub)
    from callcenter import audit_cli

    audit_cli.add_parser(sub)
    from callcenter import replay

    replay.add_parser(sub)
    return parser


def _queues_valid(settings: Settings) -> bool:
    """The queue file, when one is configured, loads; else its problems are printed."""
    if settings.acd.queues_file is None:
        return True
    from callcenter.queues_file import load_queues

    try:
        load_queues(settings.acd.queues_file)
    except ConfigError as err:
        print(f"queue definitions error:\n{err}", file=sys.stderr)
        return False
    return True


def _serve(settings: Settings) -> int:
    from aiohttp import web

    from callcenter.app import create_app

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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config, overrides=_overrides(args.set))
    except ConfigError as err:
        print(f"configuration error:\n{err}", file=sys.stderr)
        return 2
    logs.configure(settings.logging.level, settings.logging.format)
    if args.command == "serve":
        return _serve(settings)
    if args.command == "asterisk":
        from callcenter import sandbox

        return sandbox.main(args.action, settings)
    if args.command == "db":
        from callcenter.adapters.db import upgrade

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
        from callcenter import users_cli

        return users_cli.main(args, settings)
    if args.command == "audit":
        from callcenter import audit_cli

        return audit_cli.main(args, settings)
    if args.command == "replay":
        from callcenter import replay

        return replay.main(args, settings)
    if args.command == "config":
        if not _queues_valid(settings):
            return 2
        print("configuration is valid")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
