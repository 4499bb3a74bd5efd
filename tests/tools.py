"""Real components the tests need: a missing one fails the test loudly (never a skip)."""

from __future__ import annotations

import shutil


def require(command: str, package: str) -> str:
    """The path of ``command``; fails with the install hint when it is not there."""
    path = shutil.which(command)
    assert path is not None, f"{command} is not installed: apt-get install {package} (scripts/setup.sh does)"
    return path
