"""Move the package into its target layout, with ``git mv``, and rewrite every reference.

    python scripts/relayout.py            # in the repository's root; idempotent
    python scripts/relayout.py --dry-run  # print the moves only

Target layout: only the roots (app.py, cli.py, __main__.py, service.py) and cross-cutting helpers
(aio, logs, metrics, gc_policy, errors) at the top of ``callcenter/``; the domain under ``core/``
grouped by feature; ``asterisk/``, ``storage/``, ``messaging/``, ``settings/`` and ``accounts/``
each in their folder; ``web/``, ``ivr/``, ``qa/``, ``speech/`` stay.

Moves are a table (``MOVES``) plus rules by pattern (``RULES``), so modules added meanwhile land in
the right folder (``adapters/voice_dialer.py`` goes to ``asterisk/``, ``core/acd_timers.py`` to
``core/acd/timers.py``). A file in ``adapters/`` that no rule places stops the script before it
changes anything, with the list.

References rewritten: absolute imports (``from callcenter.core import ivr`` included), relative
imports (made absolute first), dotted module paths in strings, docs and configuration
(``python -m callcenter.migrations``, pyproject's package data), and file paths
(``callcenter/adapters/db.py``, and in docs/ the short ``adapters/db.py`` form).
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

PKG = "callcenter"

# old path (relative to callcenter/) -> new path. A directory moves with all it holds.
MOVES: dict[str, str] = {
    # Asterisk
    "sandbox.py": "asterisk/sandbox.py",
    "recorder.py": "asterisk/recorder.py",
    # storage
    "migrations": "storage/migrations",
    # messaging
    "messaging.py": "messaging/service.py",
    "conversation_routing.py": "messaging/routing.py",
    "identity.py": "messaging/identity.py",
    "channels/outbox.py": "messaging/outbox.py",
    "channels": "messaging/channels",
    # settings
    "config": "settings",
    "queues_file.py": "settings/queues_file.py",
    "agents_file.py": "settings/agents_file.py",
    "file_watch.py": "settings/file_watch.py",
    # accounts
    "accounts.py": "accounts/model.py",
    "users.py": "accounts/service.py",
    "users_cli.py": "accounts/cli.py",
    "audit.py": "accounts/audit.py",
    "principal.py": "accounts/principal.py",
    # the domain, by feature
    "core/acd.py": "core/acd/engine.py",
    "core/agents.py": "core/acd/agents.py",
    "core/queues.py": "core/acd/queues.py",
    "core/stats.py": "core/acd/stats.py",
    "core/ivr.py": "core/ivr/flow.py",
    "core/ivr_model.py": "core/ivr/model.py",
    "core/ivr_check.py": "core/ivr/check.py",
    "core/ivr_runner.py": "core/ivr/runner.py",
    "core/customers.py": "core/omni/customers.py",
    "core/conversations.py": "core/omni/conversations.py",
    "core/redaction.py": "core/qa/redaction.py",
    "core/transcript.py": "core/qa/transcript.py",
    "core/qa.py": "core/qa/scoring.py",
    "core/scorecard.py": "core/qa/scorecard.py",
    "core/lines.py": "core/acd/lines.py",
    "core/roster.py": "core/acd/roster.py",
    "core/selection.py": "core/acd/selection.py",
    "core/timers.py": "core/acd/timers.py",
    "core/wallboard.py": "core/acd/wallboard.py",
    "core/calls.py": "core/calls/machine.py",
    "core/call_messages.py": "core/calls/messages.py",
    "lines.py": "core/business_lines.py",
    # more storage, accounts and settings
    "adapters/audit_chain.py": "storage/audit_chain.py",
    "adapters/event_log.py": "storage/event_log.py",
    "retention.py": "storage/retention.py",
    "audit_cli.py": "accounts/audit_cli.py",
    "textfile.py": "settings/textfile.py",
    "replay.py": "asterisk/replay.py",
}

# (pattern on the path relative to callcenter/, replacement) for files the table does not name.
RULES: list[tuple[str, str]] = [
    (
        r"^adapters/(ami|ami_events|agi|voice|call_control|asterisk_port|asterisk_replay|recording_port)\.py$",
        r"asterisk/\1.py",
    ),
    (
        r"^adapters/(voice_\w+|ami_\w+|agi_\w+|asterisk_\w+|replay\w*|record_replay\w*|session_\w+)\.py$",
        r"asterisk/\1.py",
    ),
    (r"^adapters/(db|db_models|recordings|transcription_jobs|storage_errors|engine)\.py$", r"storage/\1.py"),
    (r"^adapters/(\w+_store)\.py$", r"storage/\1.py"),
    (r"^core/acd_(\w+)\.py$", r"core/acd/\1.py"),
    (r"^core/ivr_(\w+)\.py$", r"core/ivr/\1.py"),
]
# Packages emptied by the moves (their __init__ only holds a docstring): removed.
EMPTIED = ["adapters/__init__.py"]
NEW_PACKAGES = {
    "asterisk": "Asterisk: AMI, FastAGI, the voice adapter and call control, recording, the dev sandbox.",
    "storage": "Storage: the database (one shared engine), its models and migrations, the stores.",
    "messaging": "Messaging: the service, conversation routing, the channels and the outbox.",
    "settings": "Settings: the configuration and the files edited at runtime (queues, agents).",
    "accounts": "Accounts: users, sessions' records, principals and the audit log.",
    "core/acd": "The ACD: agents, queues, the engine and its figures.",
    "core/ivr": "The IVR: flows as step machines, the YAML model, its checks and runner.",
    "core/omni": "Omnichannel: customers and conversations.",
    "core/qa": "Quality: redaction, transcripts, scoring and scorecards.",
    "core/calls": "Answered calls: the state machine of call control and its messages.",
}
LINE_LENGTH = 110  # ruff's, in pyproject.toml
TEXT_SUFFIXES = {".py", ".md", ".toml", ".ini", ".cfg", ".yaml", ".yml", ".sh", ".txt", ".mako", ".json"}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def target_of(rel: str) -> str | None:
    """Where ``rel`` (a file path under callcenter/) goes, or None when it stays."""
    for old, new in sorted(MOVES.items(), key=lambda kv: -len(kv[0])):
        if rel == old:
            return new
        if rel.startswith(old + "/"):
            return new + rel[len(old) :]
    for pattern, replacement in RULES:
        if re.match(pattern, rel):
            return re.sub(pattern, replacement, rel)
    return None


def plan(root: Path) -> list[tuple[str, str]]:
    files = [line for line in git("ls-files", PKG).splitlines() if (root / line).exists()]
    moves = []
    unknown = []
    for path in files:
        rel = path[len(PKG) + 1 :]
        new = target_of(rel)
        if new is not None and new != rel:
            moves.append((rel, new))
        elif rel.startswith("adapters/") and rel not in EMPTIED and rel.endswith(".py"):
            unknown.append(rel)
    targets: dict[str, str] = {}
    sources = {old for old, _ in moves}
    for old, new in moves:
        if new in targets or ((root / PKG / new).exists() and new not in sources):
            unknown.append(f"{old} -> {new}: that place is taken (by {targets.get(new, new)})")
        targets[new] = old
    if unknown:
        sys.exit(
            "relayout: these modules have no place, or a taken one (edit MOVES or RULES):\n  "
            + "\n  ".join(unknown)
        )
    return moves


def dotted(rel: str) -> str:
    parts = Path(rel).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PKG, *parts))


def module_map(moves: list[tuple[str, str]]) -> dict[str, str]:
    found = {dotted(old): dotted(new) for old, new in moves if old.endswith(".py")}
    # Moved packages: the package's own name too (callcenter.config -> callcenter.settings).
    for old, new in MOVES.items():
        if not old.endswith(".py") and any(o.startswith(old + "/") for o, _ in moves):
            found[dotted(old + "/__init__.py")] = dotted(new + "/__init__.py")
    return found


def absolute_imports(path: Path) -> None:
    """Relative imports of ``path`` made absolute (before it moves, while they still resolve)."""
    text = path.read_text()
    if not re.search(r"^\s*from \.", text, re.M):
        return
    package = list(Path(path).with_suffix("").parts[:-1])
    lines = text.splitlines(keepends=True)
    for node in sorted(ast.walk(ast.parse(text)), key=lambda n: -getattr(n, "lineno", 0)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            module = ".".join([*base, node.module] if node.module else base)
            line = lines[node.lineno - 1]
            lines[node.lineno - 1] = re.sub(r"from \.+[\w.]*", f"from {module}", line, count=1)
    path.write_text("".join(lines))


def map_module(name: str, mapping: dict[str, str]) -> str:
    parts = name.split(".")
    for n in range(len(parts), 1, -1):
        head = ".".join(parts[:n])
        if head in mapping:
            return ".".join([mapping[head], *parts[n:]])
    return name


def rewrite_python(text: str, mapping: dict[str, str], paths: dict[str, str]) -> str:
    """Imports ``from callcenter...`` rewritten whole (``from callcenter.core import ivr`` where that
    module moved imports it from its new parent); every other line through :func:`rewrite_text`."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return rewrite_text(text, mapping, paths, short=False)
    lines = text.splitlines(keepends=True)
    edits: dict[int, tuple[int, str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
            continue
        if node.module != PKG and not node.module.startswith(PKG + "."):
            continue
        indent = re.match(r"\s*", lines[node.lineno - 1]).group(0)  # type: ignore[union-attr]
        groups: dict[str, list[str]] = {}  # new module -> what is imported from it, in order
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            if full in mapping:
                parent, _, name = mapping[full].rpartition(".")
                local = alias.asname or alias.name
                groups.setdefault(parent, []).append(name + (f" as {local}" if local != name else ""))
            else:
                rest = f"{alias.name} as {alias.asname}" if alias.asname else alias.name
                groups.setdefault(map_module(node.module, mapping), []).append(rest)
        changed = map_module(node.module, mapping) != node.module or any(
            f"{node.module}.{a.name}" in mapping for a in node.names
        )
        # Trailing comments (lint directives such as noqa) go on every statement made from this one.
        found = re.search(r"\s+#.*$", lines[(node.end_lineno or node.lineno) - 1].rstrip("\n"))
        comment = found.group(0) if found else ""
        out = [
            f"{indent}from {module} import {', '.join(names)}{comment}" for module, names in groups.items()
        ]
        if changed:
            edits[node.lineno - 1] = ((node.end_lineno or node.lineno) - 1, "\n".join(out) + "\n")
    result = []
    i = 0
    while i < len(lines):
        if i in edits:
            end, new = edits[i]
            result.append(new)
            i = end + 1
        else:
            result.append(rewrite_text(lines[i], mapping, paths, short=False))
            i += 1
    return "".join(result)


def rewrite_text(text: str, mapping: dict[str, str], paths: dict[str, str], short: bool) -> str:
    text = re.sub(r"(?<![\w.])callcenter(?:\.\w+)+", lambda m: map_module(m.group(0), mapping), text)

    def path(m: re.Match[str]) -> str:
        rel = m.group(1)
        return f"{PKG}/{paths.get(rel, rel)}"

    text = re.sub(r"(?<![\w/])callcenter/([\w/]+\.py|[\w/]+(?=/))", path, text)
    if short:  # docs name modules relative to callcenter/ ("adapters/db.py")
        text = re.sub(
            r"(?<![\w/.])((?:adapters|core|channels|config)/\w+\.py|(?:sandbox|recorder|messaging|identity|"
            r"conversation_routing|queues_file|agents_file|file_watch|accounts|users|users_cli)\.py)",
            lambda m: paths.get(m.group(1), m.group(1)),
            text,
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    root = Path(git("rev-parse", "--show-toplevel").strip())
    moves = plan(root)
    for old, new in moves:
        print(f"{PKG}/{old} -> {PKG}/{new}")
    if args.dry_run or not moves:
        print("nothing to move" if not moves else "(dry run)")
        return
    pkg = root / PKG
    for path in pkg.rglob("*.py"):
        absolute_imports(path)
    mapping = module_map(moves)
    paths = {old: new for old, new in moves}
    for old in MOVES:
        if not old.endswith(".py") and any(o.startswith(old + "/") for o, _ in moves):
            paths[old] = MOVES[old]
    for old, new in moves:
        (pkg / new).parent.mkdir(parents=True, exist_ok=True)
        git("mv", f"{PKG}/{old}", f"{PKG}/{new}")
    for folder, doc in NEW_PACKAGES.items():
        init = pkg / folder / "__init__.py"
        if (pkg / folder).is_dir() and not init.exists():
            init.write_text(f'"""{doc}"""\n')
            git("add", str(init))
    # Folders the moves emptied (left holding caches at most): gone, or they would import as
    # namespace packages and hide a stale reference.
    tracked = set(git("ls-files", PKG).splitlines())
    for folder in sorted({str(Path(old).parent) for old, _ in moves} | set(MOVES), key=len, reverse=True):
        path = pkg / folder
        if folder != "." and path.is_dir() and not any(t.startswith(f"{PKG}/{folder}/") for t in tracked):
            shutil.rmtree(path)
    for rel in EMPTIED:
        gone = pkg / rel
        if gone.exists() and not any(p.name != "__init__.py" for p in gone.parent.glob("*.py")):
            git("rm", "-q", "-r", str(gone.parent))
    long_lines: list[str] = []
    for line in git("ls-files").splitlines():
        path = root / line
        if path.suffix not in TEXT_SUFFIXES or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        if line == "scripts/relayout.py":
            continue  # its own table names the old layout
        if path.suffix == ".py":
            new = rewrite_python(text, mapping, paths)
        else:
            new = rewrite_text(text, mapping, paths, short=path.suffix == ".md")
        if line == "pyproject.toml":  # package data, relative to callcenter/
            new = re.sub(r'"migrations/', '"storage/migrations/', new)
        if new != text:
            path.write_text(new, encoding="utf-8", errors="surrogateescape")
            before = set(text.splitlines())
            long_lines += [
                f"{line}:{n}: {len(row)} characters"
                for n, row in enumerate(new.splitlines(), 1)
                if path.suffix == ".py" and len(row) > LINE_LENGTH and row not in before
            ]
    if long_lines:
        print("lines the new module paths made longer than the limit (wrap them by hand):")
        print("\n".join(f"  {x}" for x in long_lines))
    print(f"moved {len(moves)} files; now run: ruff check --fix . && ruff format --check, mypy, the tests")


if __name__ == "__main__":
    main()
