"""Shared fixtures: the real Asterisk sandbox, a real PostgreSQL, and the server as a real process.

Test ports stay clear of the defaults, so a developer's own instance can run beside the suite:
SIP 25060, Asterisk RTP 26000-26999, AMI 25038, FastAGI 24573, HTTP 28080, test phones 25100+ with
RTP 27000-27999. A missing component fails the test that needs it; nothing is skipped.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.settings import Settings, load_settings
from tests.pg import PostgresServer
from tests.redis_server import RedisServer

# Two test runs on one machine (e.g. two developers' worktrees) each take a slot: slot N adds
# N * 5000 to every port and N to the sandbox instances' names ("test1", "resil1").
SLOT = int(os.environ.get("CC_TEST_SLOT", "0"))


def port(base: int) -> int:
    return base + 5000 * SLOT


def instance(name: str) -> str:
    return f"{name}{SLOT}" if SLOT else name


# The loggers callcenter.logs.configure() sets a level on.
_CONFIGURED_LOGGERS = (
    "callcenter.adapters.panoramisk",
    "panoramisk",
    "aiohttp.access",
    "aiosqlite",
    "mail.log",
)


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """A test that runs the command line in-process (cli.main) configures logging to the
    sys.stderr pytest captured for that test, closed once it ends: later tests' log lines would
    meet a closed file ("--- Logging error ---"). Each test gets back the logging it started with."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in _CONFIGURED_LOGGERS}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    for name, was in levels.items():
        logging.getLogger(name).setLevel(was)


ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
AGENT_TOKEN = "test-agent-1001-token-0123456789"

TEST_SETTINGS: dict[str, Any] = {
    "asterisk": {
        "sip_port": port(25060),
        "rtp_port_start": port(26000),
        "rtp_port_end": port(26999),
        "ami_port": port(25038),
        "sandbox_instance": instance("test"),
        "reconnect_max_delay": 2.0,
    },
    "agi": {"port": port(24573)},
    "http": {"port": port(28080)},
    "logging": {"level": "DEBUG", "format": "json"},
    "acd": {"ring_timeout": 8},
    "security": {
        "api_tokens": [
            {"name": "test-admin", "role": "admin", "token": ADMIN_TOKEN},
            {"name": "agent-1001", "role": "agent", "token": AGENT_TOKEN, "agent_id": "1001"},
        ]
    },
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def config_with(**overrides: Any) -> dict[str, Any]:
    return _merge(TEST_SETTINGS, overrides)


def settings_from(data: dict[str, Any]) -> Settings:
    return load_settings(environ={}, overrides=data)


@pytest.fixture(scope="session")
def asterisk() -> Iterator[Any]:
    """The test instance of the Asterisk sandbox, up for the whole session."""
    from callcenter.asterisk.sandbox import AsteriskSandbox

    sandbox = AsteriskSandbox(settings_from(config_with()))
    # Start from a clean slate: no registrations left over from an earlier run.
    sandbox.down()
    sandbox.forget_state()
    sandbox.up(timeout=120)
    yield sandbox
    sandbox.down()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    server = PostgresServer()
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real Redis on loopback, one per test module (its tests share it)."""
    server = RedisServer()
    yield server.start()
    server.stop()


@dataclass
class ServerProcess:
    """``callcenter serve`` running as a child process, configured by a YAML file."""

    config: dict[str, Any]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config['http']['port']}"

    def start(self, wait_asterisk: bool = True, timeout: float = 30.0) -> ServerProcess:
        path = self.workdir / "callcenter.yaml"
        path.write_text(yaml.safe_dump(self.config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "callcenter", "--config", str(path), "serve"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )
        self.wait_until(lambda: self.health() is not None, timeout, "the HTTP server")
        if wait_asterisk:
            self.wait_until(lambda: (self.health() or {}).get("asterisk"), timeout, "AMI login")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        self.proc = None
        return code

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                return json.loads(resp.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as err:
            return json.loads(err.read())  # type: ignore[no-any-return]
        except OSError:
            return None

    def api(
        self, method: str, path: str, body: Any = None, token: str | None = ADMIN_TOKEN
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def logs(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                entries.append({"event": line})
        return entries

    def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"server exited ({self.proc.returncode}) while waiting for {what}:\n"
                    + self.log_path.read_text(errors="replace")[-4000:]
                )
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}; server log tail:\n"
            + self.log_path.read_text(errors="replace")[-4000:]
        )


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    servers: list[ServerProcess] = []

    def make(**overrides: Any) -> ServerProcess:
        config = config_with(**overrides)
        config.setdefault("database", {"url": f"sqlite+aiosqlite:///{tmp_path}/callcenter.db"})
        server = ServerProcess(config, tmp_path)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
