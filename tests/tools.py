"""Real components the tests need: a missing one fails the test loudly (never a skip)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def require(command: str, package: str) -> str:
    """The path of ``command``; fails with the install hint when it is not there."""
    path = shutil.which(command)
    assert path is not None, f"{command} is not installed: apt-get install {package} (scripts/setup.sh does)"
    return path


def run_callcenter(
    *args: str, cwd: Path, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m callcenter ARGS`` as a user runs it: in ``cwd``, with none of our environment,
    and this checkout's code, whichever one the environment has installed."""
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(CHECKOUT)},
    )
