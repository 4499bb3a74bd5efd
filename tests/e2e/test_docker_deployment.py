"""The container deployment, built and run (issue 14, docs/deployment.md): the images built from
debootstrap roots (``scripts/docker_build.sh``: Docker's engine installed and started when it is
missing; cached in /var/cache/callcenter/docker), then ``bench/docker_failover.py``: compose brings
up two server nodes, PostgreSQL, Redis, Asterisk and Kamailio on host networking, a real call goes
through Kamailio, the IVR and an agent's phone with audio both ways, the routing owner's container
is killed, and a second call is carried by the other node.

Needs root, as the suite does; a machine where Docker's engine cannot start fails here, loudly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*command: str, timeout: float) -> str:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{output[-6000:]}"
    return output


def test_the_containers_carry_a_call_and_a_second_after_the_owner_is_killed() -> None:
    assert os.geteuid() == 0, "building and running the images needs root (Docker's engine)"
    run("bash", "scripts/docker_build.sh", timeout=1200)
    out = run(sys.executable, "bench/docker_failover.py", "--no-build", timeout=600)
    assert "==> passed" in out, out[-4000:]
    killed = re.search(r"^\s*killed\s+(\S+) \(the routing owner\)$", out, re.MULTILINE)
    assert killed is not None, out[-4000:]  # the owner was known, and it was the one killed
    took = re.search(r"^\s*node\d routing owner after the kill \(s\)\s+([0-9.]+)$", out, re.MULTILINE)
    assert took is not None, out[-4000:]  # the survivor became the owner
    for call in ("call 1", "call 2"):
        talking = re.search(rf"^\s*{call}: key press to agent talking \(s\)\s+([0-9.]+)$", out, re.MULTILINE)
        assert talking is not None, out[-4000:]
