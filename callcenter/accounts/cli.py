"""``callcenter user add|list|passwd|disable|enable``: accounts from the command line (the first admin).

Passwords come from a prompt (typed twice, not echoed) or, for scripts, one line on standard input
with ``--password-stdin``; never from an argument (it would be in the shell history and ``ps``).
Every change is in the audit log as done by ``cli:<user of the machine>``, written with the change in
one transaction: if the audit row cannot be written, nothing changes and the command exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time

from callcenter.accounts.audit import Audit
from callcenter.accounts.model import LANGUAGES, ROLES, AccountError, DuplicateUser, UnknownUser
from callcenter.accounts.service import Accounts
from callcenter.errors import AuditUnavailable
from callcenter.settings import Settings
from callcenter.settings.agents_file import load_agents, roster
from callcenter.storage.accounts_store import AccountStore
from callcenter.storage.db import Database, DatabaseError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="accounts: add, list, passwd, disable, enable, language")
    actions = user.add_subparsers(dest="user_command", required=True)
    add = actions.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--lines", default=None, help="business lines, comma-separated (default: all)")
    add.add_argument(
        "--agent-id",
        default=None,
        help="the ACD agent id (settings' agents): required for agents; for a supervisor or admin, "
        "the desk phone that listen, whisper and barge ring",
    )
    add.add_argument("--display-name", default="")
    add.add_argument(
        "--language", default=None, choices=LANGUAGES, help="the pages' language (default: the browser's)"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    actions.add_parser("list", help="list the accounts")
    passwd = actions.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    for name, text in (("disable", "refuse sign-in (ends the user's sessions)"), ("enable", "allow again")):
        p = actions.add_parser(name, help=text)
        p.add_argument("username")
    language = actions.add_parser("language", help="set the pages' language of an account")
    language.add_argument("username")
    language.add_argument("language", choices=(*LANGUAGES, "browser"), help="browser: the browser's")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AccountError("no terminal to ask the password on: use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def _agent_ids(settings: Settings) -> list[str]:
    """The agents running now: the settings', and those the agents file adds (less the disabled)."""
    path = settings.acd.agents_file
    if path is None:
        return [a.id for a in settings.agents]
    entries = load_agents(path, {a.id: a.extension for a in settings.agents})
    return [a.id for a in roster(settings.agents, entries)]


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database.url)
    await database.start()  # creates or migrates the schema
    await database.stop()
    store = AccountStore(settings.database.url)
    await store.start()
    try:
        accounts = Accounts(store, Audit(store, time.time), _agent_ids(settings), time.time)
        who = f"cli:{getpass.getuser()}"
        command = args.user_command
        if command == "list":
            for u in await store.users():
                lines = "all lines" if u.lines is None else ",".join(sorted(u.lines))
                state = "disabled" if u.disabled else "active"
                agent = f" agent {u.agent_id}" if u.agent_id else ""
                language = u.language or "browser"
                print(
                    f"{u.id}\t{u.username}\t{u.role}\t{lines}\t{state}{agent}\t{u.display_name}\t{language}"
                )
            return 0
        if command == "add":
            wanted = None if args.lines is None else args.lines.split(",")
            user = await accounts.create(
                who,
                username=args.username,
                password=_password(args.password_stdin),
                role=args.role,
                display_name=args.display_name,
                lines=wanted,
                agent_id=args.agent_id,
                language=args.language,
            )
            print(f"user {user.username} created (id {user.id}, role {user.role})")
            return 0
        user = await store.by_username(args.username)
        if command == "language":
            chosen = None if args.language == "browser" else args.language
            await accounts.update(who, user.id, {"language": chosen})
            print(f"language of {user.username}: {chosen or 'the browser'}")
            return 0
        if command == "passwd":
            await accounts.update(who, user.id, {"password": _password(args.password_stdin)})
            print(f"password of {user.username} changed")
        else:
            await accounts.update(who, user.id, {"disabled": command == "disable"})
            print(f"user {user.username} {command}d")
        return 0
    finally:
        await store.stop()


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except DuplicateUser as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (AccountError, UnknownUser) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except AuditUnavailable as err:  # written with the change in one transaction: neither is stored
        print(f"refused, nothing changed: {err}", file=sys.stderr)
        return 1
    except DatabaseError as err:
        print(f"database error: {err}", file=sys.stderr)
        return 1
