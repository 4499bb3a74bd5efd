"""Every end-to-end test starts with no phone registered in the shared Asterisk instance.

pyVoIP cannot always deregister in time when a test stops its phones (its stop blocks on a socket
read and is bounded), and Asterisk keeps a registration until it expires. A leftover contact makes
the next test's server offer calls to a phone that is gone. So, when any contact is left, the
instance is restarted from a clean astdb (about a second).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest


def _contacts(sandbox: Any) -> int:
    found = re.search(r"Objects found: (\d+)", sandbox.cli("pjsip show contacts"))
    return int(found.group(1)) if found else 0


@pytest.fixture(autouse=True)
def no_registered_phones(asterisk: Any) -> Iterator[None]:
    if _contacts(asterisk):
        asterisk.down()
        asterisk.forget_state()
        asterisk.up(timeout=120)
    assert _contacts(asterisk) == 0
    yield
