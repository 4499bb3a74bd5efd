"""``callcenter agent add|remove|list`` as a user runs it (docs/admin.md, "Adding and removing
agents"): the agents file written, refusals in words, the audit log, accounts linking to the agent."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import yaml

from tests.tools import run_callcenter as run


def test_agent_add_list_remove(tmp_path: Path) -> None:
    agents = tmp_path / "agents.yaml"
    sets = [
        "--set",
        f"database.url=sqlite+aiosqlite:///{tmp_path}/cc.db",
        "--set",
        f"acd.agents_file={agents}",
    ]

    def cc(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(*sets, *args, cwd=tmp_path, stdin=stdin)

    added = cc(
        "agent",
        "add",
        "2001",
        "--extension",
        "2001",
        "--name",
        "Ann Added",
        "--queues",
        "support",
        "--skills",
        "billing=3",
    )
    assert added.returncode == 0, added.stderr
    entry = yaml.safe_load(agents.read_text())["agents"]["2001"]
    assert entry["extension"] == "2001" and entry["skills"] == {"billing": 3} and entry["name"] == "Ann Added"
    listed = [line.split("\t") for line in cc("agent", "list").stdout.splitlines()]
    assert ["2001", "2001", "Ann Added", "added"] in listed and [
        "1001",
        "1001",
        "Agent 1001",
        "settings",
    ] in listed

    taken = cc("agent", "add", "2002", "--extension", "1003")
    assert taken.returncode == 2 and "extension 1003 is agent 1003's phone" in taken.stderr
    assert cc("agent", "add", "2001", "--extension", "2009").returncode == 2  # the id exists
    web = cc("agent", "add", "2002", "--extension", "2002-web")
    assert web.returncode == 2 and "-web" in web.stderr
    level = cc("agent", "add", "2002", "--extension", "2002", "--skills", "billing=11")
    assert level.returncode == 2 and "skills.billing" in level.stderr
    assert "2002" not in yaml.safe_load(agents.read_text())["agents"]  # nothing written

    user = cc(
        "user",
        "add",
        "ann",
        "--role",
        "agent",
        "--agent-id",
        "2001",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert user.returncode == 0, user.stderr

    assert cc("agent", "remove", "2001").returncode == 0
    assert cc("agent", "remove", "1010").returncode == 0  # the settings': disabled, not deleted
    entries = yaml.safe_load(agents.read_text())["agents"]
    assert "2001" not in entries and entries["1010"] == {
        "queues": [],
        "skills": {},
        "languages": [],
        "max_chats": 3,
        "chat_capacity": {},
        "disabled": True,
    }
    ids = [line.split("\t")[0] for line in cc("agent", "list").stdout.splitlines()]
    assert "2001" not in ids and "1010" not in ids and "1009" in ids
    assert cc("agent", "remove", "2001").returncode == 2
    with sqlite3.connect(tmp_path / "cc.db") as db:
        rows = db.execute("select action, target from audit order by id").fetchall()
    assert (
        ("agent.added", "2001") in rows
        and ("agent.removed", "2001") in rows
        and ("agent.removed", "1010") in rows
    )
