"""``callcenter agent add|remove|list``: agents added and removed from the command line.

The same store as /admin/agents: an entry of the agents file (``acd.agents_file``), validated by
its loader (``file:line: key: problem``), audited first (``agent.added``, ``agent.removed`` by
``cli:<user>``), written atomically. A running server's watcher applies it (docs/admin.md,
"Adding and removing agents"): the engine, the name maps, the Asterisk endpoints; an agent on a
call leaves once its work has ended (a deferred removal).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time

from callcenter.accounts.audit import Audit
from callcenter.errors import AuditUnavailable
from callcenter.files import write_atomically
from callcenter.settings import ConfigError, Settings
from callcenter.settings.agents_file import Entry, dump_agents, load_agents, parse_agents, roster
from callcenter.storage.accounts_store import AccountStore
from callcenter.storage.db import Database


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser("agent", help="agents added at runtime (acd.agents_file): add, remove, list")
    actions = agent.add_subparsers(dest="agent_command", required=True)
    add = actions.add_parser("add", help="add an agent (a running server applies it at once)")
    add.add_argument("agent_id")
    add.add_argument("--extension", required=True, help="its desk phone's SIP user (browser: <ext>-web)")
    add.add_argument("--name", default="")
    add.add_argument("--queues", default="", help="comma-separated")
    add.add_argument("--skills", default="", help="skill=level, comma-separated (levels 1 to 10)")
    add.add_argument("--languages", default="", help="codes, comma-separated (en, fr, pt-BR)")
    remove = actions.add_parser("remove", help="remove an agent (one of the settings file: disabled)")
    remove.add_argument("agent_id")
    actions.add_parser("list", help="the agents running: id, extension, name, where defined")


def _items(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def main(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.acd.agents_file
    known = {a.id: a.extension for a in settings.agents}
    try:
        entries = load_agents(path, known) if path is not None else {}
    except ConfigError as err:
        print(f"error: the agents file has a problem:\n{err}", file=sys.stderr)
        return 2
    if args.agent_command == "list":
        for a in roster(settings.agents, entries):
            where = "added" if a.id in entries and entries[a.id].added else "settings"
            print(f"{a.id}\t{a.extension}\t{a.name or a.id}\t{where}")
        return 0
    if path is None:
        print("error: acd.agents_file is not set: agents are in the settings file", file=sys.stderr)
        return 2
    agent_id = args.agent_id
    if args.agent_command == "add":
        problem = _add(args, settings, entries)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        action, detail = "agent.added", {"extension": args.extension, "name": args.name}
    else:
        if agent_id not in known and agent_id not in entries:
            print(f"error: no agent {agent_id}", file=sys.stderr)
            return 2
        if agent_id in known:
            entries[agent_id] = (entries.get(agent_id) or Entry()).model_copy(update={"disabled": True})
        else:
            del entries[agent_id]
        action, detail = "agent.removed", {"disabled": agent_id in known}
    text = dump_agents(entries)
    try:
        parse_agents(text, str(path), known)  # what is written is what the server will read
    except ConfigError as err:
        print(f"error:\n{err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_audit(settings, action, agent_id, detail))
    except AuditUnavailable as err:
        print(f"refused, nothing changed: {err}", file=sys.stderr)
        return 1
    write_atomically(path, text)
    print(f"agent {agent_id} {'added' if action == 'agent.added' else 'removed'} ({path})")
    return 0


def _add(args: argparse.Namespace, settings: Settings, entries: dict[str, Entry]) -> str | None:
    """Put the new agent's entry in ``entries``; else what is wrong."""
    running = {a.id: a.extension for a in roster(settings.agents, entries)}
    if args.agent_id in {a.id for a in settings.agents} | set(entries):
        return f"agent {args.agent_id} exists"
    owner = next((a for a, ext in running.items() if ext == args.extension), None)
    if owner is not None:
        return f"extension {args.extension} is agent {owner}'s phone"
    try:
        skills = {k.strip(): int(v) for k, v in (s.split("=", 1) for s in _items(args.skills))}
        entries[args.agent_id] = Entry.model_validate(
            {
                "name": args.name,
                "extension": args.extension,
                "queues": _items(args.queues),
                "skills": skills,
                "languages": _items(args.languages),
            }
        )
    except ValueError as err:  # a bad skill=level, or the model's own refusal
        return str(err)
    return None


async def _audit(settings: Settings, action: str, target: str, detail: dict[str, object]) -> None:
    database = Database(settings.database.url)
    await database.start()  # creates or migrates the schema
    await database.stop()
    store = AccountStore(settings.database.url)
    await store.start()
    try:
        await Audit(store, time.time).record(f"cli:{getpass.getuser()}", action, target, detail)
    finally:
        await store.stop()
