"""The container deployment run for real: build, compose up, a real call, kill a node, a second call.

    sudo .venv/bin/python bench/docker_failover.py                  # build (cached), then the scenario
    sudo .venv/bin/python bench/docker_failover.py --no-build --keep # reuse the images; leave it up

What it does (scripts/docker_check.sh is the same with the build first, for CI):

1. ``scripts/docker_build.sh`` (unless ``--no-build``): base images from debootstrap roots, the
   project's images FROM them.
2. ``docker-compose -p cccluster -f docker/compose.cluster.yml up -d`` on fresh volumes (``down -v``
   first: whatever the cccluster project held is wiped), with the
   secrets in an env file outside the repository (made once, mode 0600:
   /var/cache/callcenter/docker/cluster.env). Waits for ``/healthz`` to say ``ok`` (database and
   Asterisk) on both server nodes.
3. A real call: agent 1001's pyVoIP phone registers with Asterisk (17160); the caller's phone
   dials the inbound number through Kamailio (17060, the trunk user); the IVR answers (its prompt is
   heard), the caller presses 1 (in-band DTMF), agent 1001's phone rings and answers, and each side
   hears the other's tone. The call record (``/api/interactions``) must say ``answered``.
4. ``docker kill`` of one server node: the routing owner when a node tells its role (``/healthz``
   or ``/metrics``; exactly one owner, waited for up to 30 s); while no node does (the election
   not wired in, docs/cluster.md), the node the dialplan's FastAGI does not point at. The other
   node must keep answering ``/healthz``, become the owner (when roles are told), see agent 1001
   available, and carry a second real call the same way.

Printed: the build time, start-up to both nodes healthy, per call the time from dialling to the
IVR's prompt and from the key press to the agent's phone ringing, the kill and what /healthz said
after it. Not part of the test suite (a long scenario); exit status 1 on the first failure, with
the containers' last log lines. Needs root (docker), the images' tools (scripts/docker_build.sh) and
the test extra (.venv from scripts/setup.sh --test: pyVoIP).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.sip import Phone, goertzel, level, wait_for  # noqa: E402

COMPOSE_FILE = REPO / "docker" / "compose.cluster.yml"
PROJECT = "cccluster"
CACHE = Path("/var/cache/callcenter/docker")
ENV_FILE = CACHE / "cluster.env"
SECRETS = (
    "AMI_SECRET",
    "AGENT_PASSWORD",
    "TRUNK_PASSWORD",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "ADMIN_API_TOKEN",
)
DOCKER = "/usr/bin/docker"
# docker/compose.cluster.yml's ports.
NODES = {"node1": 17080, "node2": 17081}
FASTAGI_NODE = "node1"  # the dialplan's AGI_PORT (17573) is node1's
KAMAILIO_SIP, ASTERISK_SIP = 17060, 17160
INBOUND = "5000"
AGENT = "1001"
CALLER_FREQ, AGENT_FREQ = 440.0, 1000.0
# The phones' own ports: 17500+ (SIP), 17600-17799 (RTP), clear of the deployment's.
PHONE_SIP = 17500
PHONE_RTP = 17600


class Failed(Exception):
    """A step of the scenario failed; the message says which and why."""


@dataclass
class Clock:
    started: float

    @classmethod
    def now(cls) -> Clock:
        return cls(time.monotonic())

    def seconds(self) -> float:
        return time.monotonic() - self.started


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def env_file(kamailio_conf: Path | None) -> Path:
    """The secrets (made once, kept for later runs), and where Kamailio's configuration is."""
    values: dict[str, str] = {}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key] = value
    for key in SECRETS:
        values.setdefault(key, secrets.token_hex(24))
    # pyVoIP, the scenario's phones, needs the challenge as the INVITE's first reply (kamailio.cfg).
    values["KAMAILIO_AUTO_INV_100"] = "0"
    if kamailio_conf is not None:
        values["KAMAILIO_CONF_DIR"] = str(kamailio_conf.resolve())
    else:
        values.pop("KAMAILIO_CONF_DIR", None)
    CACHE.mkdir(parents=True, exist_ok=True)
    ENV_FILE.touch(mode=0o600)
    ENV_FILE.chmod(0o600)
    ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in sorted(values.items())), encoding="utf-8")
    return ENV_FILE


def read_env() -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in ENV_FILE.read_text(encoding="utf-8").splitlines() if "=" in line
    )


def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["docker-compose", "-p", PROJECT, "-f", str(COMPOSE_FILE), "--env-file", str(ENV_FILE), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise Failed(f"{' '.join(command[5:])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done


def container(service: str) -> str:
    done = compose("ps", "-q", service)
    ident = done.stdout.strip()
    if not ident:
        raise Failed(f"no container for {service}")
    return ident


def http(port: int, path: str, token: str | None = None, timeout: float = 5.0) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")
    except OSError as err:
        return 0, str(err)


def healthz(port: int) -> dict[str, Any] | None:
    status, body = http(port, "/healthz")
    if status != 200:
        return None
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def wait_healthy(port: int, timeout: float) -> dict[str, Any]:
    """/healthz answering "ok" (database and Asterisk both up)."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        last = healthz(port)
        if last is not None and last.get("status") == "ok":
            return last
        time.sleep(0.5)
    raise Failed(f"/healthz on {port} not ok within {timeout:.0f} s (last: {last})")


_ROLE_KEYS = ("role", "routing_role", "owner", "routing_owner", "leader", "is_owner")
_ROLE_METRIC = re.compile(r"^(\w*(?:owner|leader)\w*)(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.MULTILINE)


def role_of(port: int) -> str | None:
    """ "owner", "follower", or None while the node does not tell (/healthz, then /metrics)."""
    body = healthz(port) or {}
    for key in _ROLE_KEYS:
        value = body.get(key)
        if isinstance(value, bool):
            return "owner" if value else "follower"
        if isinstance(value, str) and value:
            return "owner" if value.lower() in ("owner", "leader", "routing") else "follower"
    status, metrics = http(port, "/metrics")
    if status == 200:
        for _name, value in _ROLE_METRIC.findall(metrics):
            return "owner" if float(value) >= 1 else "follower"
    return None


def wait_owner(names: list[str], timeout: float) -> str | None:
    """The one routing owner among ``names`` once there is one; None when no node tells its role
    (the election is not wired in). Two owners at once fail."""
    deadline = time.monotonic() + timeout
    roles: dict[str, str | None] = {}
    while True:
        roles = {name: role_of(NODES[name]) for name in names}
        owners = [name for name, role in roles.items() if role == "owner"]
        if len(owners) > 1:
            raise Failed(f"two routing owners at once: {roles}")
        if owners:
            return owners[0]
        if all(role is None for role in roles.values()):
            return None
        if time.monotonic() > deadline:
            raise Failed(f"no routing owner within {timeout:.0f} s: {roles}")
        time.sleep(0.2)


def choose_victim(owner: str | None) -> tuple[str, str]:
    if owner is not None:
        return owner, "the routing owner"
    victim = next(name for name in NODES if name != FASTAGI_NODE)
    return victim, (
        "no node tells its role (the election is not wired in): the node the dialplan's FastAGI does not use"
    )


def wait_available(name: str, token: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (state := agent_state(NODES[name], token)) != "available":
        if time.monotonic() > deadline:
            raise Failed(f"agent {AGENT} not 'available' on {name} within {timeout:.0f} s: {state}")
        time.sleep(0.2)


def agent_state(port: int, token: str) -> str | None:
    status, body = http(port, f"/api/agents/{AGENT}", token)
    return json.loads(body).get("state") if status == 200 else None


def interactions(port: int, token: str, limit: int = 20) -> list[dict[str, Any]]:
    status, body = http(port, f"/api/interactions?limit={limit}", token)
    if status != 200:
        raise Failed(f"/api/interactions on {port}: HTTP {status} {body[:200]}")
    rows: list[dict[str, Any]] = json.loads(body)["interactions"]
    return rows


_phone_numbers = iter(range(100))


def phone(server_port: int, user: str, password: str, *, answer: bool, freq: float) -> Phone:
    n = next(_phone_numbers)
    return Phone(
        server_port,
        user,
        password,
        PHONE_SIP + n,
        PHONE_RTP + 20 * n,
        PHONE_RTP + 20 * n + 18,
        answer=answer,
        send_freq=freq,
    )


def real_call(label: str, port: int, token: str, agent: Phone, caller: Phone) -> dict[str, float]:
    """Dial through Kamailio, hear the IVR, press 1, the agent rings and answers, both hear."""
    measured: dict[str, float] = {}
    before = {row["id"] for row in interactions(port, token)}
    rung_before = len(agent.incoming)
    clock = Clock.now()
    call, heard = caller.dial(INBOUND, timeout=20)
    answered = time.monotonic()
    measured["dial to IVR answer (s)"] = clock.seconds()
    wait_for(lambda: level(heard.heard_since(answered)) > 3, 15, f"{label}: the IVR's prompt")
    measured["dial to prompt heard (s)"] = clock.seconds()
    pressed = Clock.now()
    caller.press(heard, "1")
    wait_for(lambda: len(agent.incoming) > rung_before, 30, f"{label}: agent {AGENT}'s phone ringing")
    measured["key press to agent ringing (s)"] = pressed.seconds()
    ringing = agent.incoming[-1]
    agent_audio = agent.audio_for(ringing)
    wait_for(lambda: len(agent_audio.heard) > 50, 15, f"{label}: audio at the agent")
    measured["key press to agent talking (s)"] = pressed.seconds()
    talk = time.monotonic()
    time.sleep(2.0)
    at_agent = agent_audio.heard_since(talk)
    at_caller = heard.heard_since(talk)
    caller_ratio = goertzel(at_agent, CALLER_FREQ) / max(goertzel(at_agent, AGENT_FREQ), 1e-9)
    agent_ratio = goertzel(at_caller, AGENT_FREQ) / max(goertzel(at_caller, CALLER_FREQ), 1e-9)
    if caller_ratio < 2 or agent_ratio < 2:
        raise Failed(
            f"{label}: no two-way audio (caller's tone at the agent {caller_ratio:.1f}x, "
            f"agent's tone at the caller {agent_ratio:.1f}x)"
        )
    measured["caller's tone at the agent (x)"] = caller_ratio
    measured["agent's tone at the caller (x)"] = agent_ratio
    state = agent_state(port, token)
    if state != "busy":
        raise Failed(f"{label}: agent {AGENT} is {state!r} during the call, not 'busy'")
    call.hangup()
    deadline = time.monotonic() + 20
    new: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        new = [row for row in interactions(port, token) if row["id"] not in before]
        if new and all(row.get("outcome") for row in new):
            break
        time.sleep(0.3)
    # Two nodes on one Asterisk: exactly one record and one offer per call, none twice.
    if len(new) != 1 or new[0].get("outcome") != "answered":
        raise Failed(f"{label}: not exactly one 'answered' call record: {new}")
    if new[0].get("agent_id") != AGENT:
        raise Failed(f"{label}: answered by {new[0].get('agent_id')!r}, not {AGENT}")
    rang = len(agent.incoming) - rung_before
    if rang != 1:
        raise Failed(f"{label}: agent {AGENT}'s phone rang {rang} times for one call")
    return measured


def logs_tail() -> str:
    return compose("logs", "--no-color", "--tail", "25", check=False).stdout[-8000:]


def scenario(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if not args.no_build:
        say("scripts/docker_build.sh")
        clock = Clock.now()
        subprocess.run(["bash", str(REPO / "scripts" / "docker_build.sh")], check=True)
        results["build (s)"] = clock.seconds()

    conf = args.kamailio_conf
    if conf is None and not (REPO / "asterisk_conf" / "kamailio" / "kamailio.cfg").exists():
        raise Failed(
            "asterisk_conf/kamailio/kamailio.cfg is not in this checkout: pass "
            "--kamailio-conf DIR (a directory with a kamailio.cfg)"
        )
    env_file(conf)
    secrets_ = read_env()
    token = secrets_["ADMIN_API_TOKEN"]

    say("docker-compose up (fresh volumes)")
    compose("down", "-v", "--remove-orphans", check=False)
    clock = Clock.now()
    compose("up", "-d")
    results["compose up returned (s)"] = clock.seconds()
    for name, port in NODES.items():
        body = wait_healthy(port, args.start_timeout)
        results[f"{name} /healthz ok after (s)"] = clock.seconds()
        print(f"    {name}: {json.dumps(body)}")

    say(f"agent {AGENT} registers with Asterisk; the caller calls through Kamailio")
    agent = phone(ASTERISK_SIP, AGENT, secrets_["AGENT_PASSWORD"], answer=True, freq=AGENT_FREQ)
    caller = phone(KAMAILIO_SIP, "caller", secrets_["TRUNK_PASSWORD"], answer=False, freq=CALLER_FREQ)
    try:
        # The node that routes answers for the agents: the owner once the election tells it,
        # else the one the dialplan's FastAGI reaches (then both route, on one Asterisk).
        owner = wait_owner(list(NODES), 30)
        results["routing owner"] = owner or "(no node tells its role)"
        routing = owner or FASTAGI_NODE
        agent.start(timeout=20)
        wait_available(routing, token)
        caller.start(timeout=20)

        say(f"call 1 (routing: {routing})")
        first = real_call("call 1", NODES[routing], token, agent, caller)
        results.update({f"call 1: {k}": v for k, v in first.items()})

        victim, why = choose_victim(owner)
        survivor = next(n for n in NODES if n != victim)
        say(f"docker kill {victim}: {why}")
        ident = container(victim)
        clock = Clock.now()
        subprocess.run([DOCKER, "kill", ident], check=True, capture_output=True)
        results["killed"] = f"{victim} ({why})"
        body = wait_healthy(NODES[survivor], 10)
        results[f"{survivor} /healthz ok after the kill (s)"] = clock.seconds()
        print(f"    {survivor}: {json.dumps(body)}")
        if healthz(NODES[victim]) is not None:
            raise Failed(f"{victim} still answers /healthz after docker kill")
        if owner is not None:
            if wait_owner([survivor], 30) != survivor:
                raise Failed(f"{survivor} did not become the routing owner")
            results[f"{survivor} routing owner after the kill (s)"] = clock.seconds()
        wait_available(survivor, token)
        results[f"agent available on {survivor} after the kill (s)"] = clock.seconds()

        say(f"call 2, {victim} dead")
        second = real_call("call 2", NODES[survivor], token, agent, caller)
        results.update({f"call 2: {k}": v for k, v in second.items()})
        running = subprocess.run(
            [DOCKER, "inspect", "-f", "{{.State.Status}} restarts={{.RestartCount}}", ident],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        results[f"{victim} after the scenario"] = running
    finally:
        caller.stop()
        agent.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-build", action="store_true", help="use the images already built")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument(
        "--kamailio-conf",
        type=Path,
        default=None,
        help="directory with kamailio.cfg (default: the repository's asterisk_conf/kamailio)",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=180.0,
        help="seconds for both nodes to be healthy after compose up",
    )
    args = parser.parse_args(argv)
    started = Clock.now()
    code = 0
    try:
        results = scenario(args)
    except (Failed, AssertionError, subprocess.CalledProcessError) as err:
        print(f"FAILED: {err}", file=sys.stderr)
        print(logs_tail(), file=sys.stderr)
        code = 1
    else:
        say(f"passed in {started.seconds():.0f} s")
        width = max(len(k) for k in results)
        for key, value in results.items():
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            print(f"  {key:<{width}}  {shown}")
    finally:
        if not args.keep:
            compose("down", "-v", "--remove-orphans", check=False)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
