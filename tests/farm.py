"""Several Asterisk servers behind Kamailio, for tests (issue 14): two sandbox instances and a proxy.

    farm = Farm.for_slot(workdir)
    farm.start()             # Asterisk "farma"/"farmb" (same cached root), Kamailio in front
    farm.kamailio.port       # where callers send their calls
    farm.a.cli("core show channels concise")
    farm.stop()

The two instances are the sandbox's, with their own instance names, SIP/AMI/RTP ports (moved by
CC_TEST_SLOT like every test port, clear of the other tests' ranges) and FastAGI target. Kamailio
runs asterisk_conf/kamailio/kamailio.cfg in the foreground, on 127.0.0.1, with the two servers in
its dispatcher list. A missing kamailio fails the test (``require``), it never skips.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.asterisk.sandbox import AsteriskSandbox
from tests.conftest import config_with, instance, port, settings_from
from tests.tools import require

CONFIG = Path(__file__).resolve().parent.parent / "asterisk_conf" / "kamailio" / "kamailio.cfg"
KAMAILIO_HOST = "127.0.0.1"

# Base ports (slot 0); port() adds 5000 per slot. They stay in 23600-24499, which no other test uses.
A_SIP, A_AMI, A_RTP = 23660, 23638, (23700, 23799)
B_SIP, B_AMI, B_RTP = 23860, 23838, (23900, 23999)
KAMAILIO_PORT = 23670  # and 23671 for a second one
PHONE_SIP = 24000  # test phones: 24000-24099
PHONE_RTP = 24100  # their RTP: 24100-24399
AGI_PORT = 24474
HTTP_PORT = 24480


def servers() -> list[dict[str, Any]]:
    """``asterisk.servers`` of the farm: each named after its sandbox instance, so its uniqueids
    start with the sandbox's systemname, "callcenter-<instance>"."""
    return [
        {"name": instance("farma"), "sip_port": port(A_SIP), "ami_port": port(A_AMI)},
        {"name": instance("farmb"), "sip_port": port(B_SIP), "ami_port": port(B_AMI)},
    ]


def sandbox_settings(name: str, sip: int, ami: int, rtp: tuple[int, int], **extra: Any) -> dict[str, Any]:
    """The configuration of one farm server (``config_with`` overrides): one of ``servers()``,
    with the trunks to the other."""
    asterisk = {
        "servers": servers(),
        "server_name": instance(name),
        "sandbox_instance": instance(name),
        "sip_port": port(sip),
        "ami_port": port(ami),
        "rtp_port_start": port(rtp[0]),
        "rtp_port_end": port(rtp[1]),
    }
    asterisk.update(extra.pop("asterisk", {}))
    return {"asterisk": asterisk, "agi": {"port": port(AGI_PORT)}, **extra}


@dataclass
class Kamailio:
    """Kamailio in the foreground with our configuration, its log in ``workdir/kamailio.log``."""

    workdir: Path
    servers: list[tuple[str, int]]
    host: str = KAMAILIO_HOST
    port: int = field(default_factory=lambda: port(KAMAILIO_PORT))
    defines: dict[str, str] = field(default_factory=dict)  # more -A NAME=value (kamailio.cfg)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "kamailio.log"

    def write_list(self) -> Path:
        path = self.workdir / "dispatcher.list"
        path.write_text("".join(f"1 sip:{host}:{sip_port} 0 0\n" for host, sip_port in self.servers))
        return path

    def command(self) -> list[str]:
        run_dir = self.workdir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        return [
            require("kamailio", "kamailio"),
            "-DD",  # foreground, no daemon
            "-E",  # log to stderr (our log file)
            "-f",
            str(CONFIG),
            "-Y",
            str(run_dir),
            "-A",
            f"LISTEN=udp:{self.host}:{self.port}",
            "-A",
            f'DISPATCHER_LIST="{self.write_list()}"',
            "-A",
            "AUTO_INV_100=0",  # pyVoIP needs the 401 challenge as the first reply
            *(arg for name, value in self.defines.items() for arg in ("-A", f"{name}={value}")),
        ]

    def start(self, timeout: float = 15.0) -> Kamailio:
        self.workdir.mkdir(parents=True, exist_ok=True)
        check = subprocess.run(
            [*self.command(), "-c"], capture_output=True, text=True, timeout=30, check=False
        )
        assert check.returncode == 0, f"kamailio -c refused the configuration:\n{check.stderr[-3000:]}"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = self.proc.poll()
            assert exited is None, f"kamailio exited ({exited}):\n{self.log()[-3000:]}"
            if self.answers_options():
                return self
            time.sleep(0.1)
        raise AssertionError(f"kamailio did not answer OPTIONS within {timeout:.0f} s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, pattern: str, timeout: float, *, after: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in the log past character ``after``, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log()[after:])
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {pattern!r} in kamailio's log within {timeout:.0f} s:\n{self.log()[after:][-3000:]}"
                )
            time.sleep(0.1)

    def answers_options(self) -> bool:
        """Send Kamailio an OPTIONS of its own (not for a server) and wait briefly for a reply."""
        call_id = uuid.uuid4().hex
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.5)
            local = sock.getsockname()[1]
            request = (
                f"OPTIONS sip:{self.host}:{self.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{call_id[:16]};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:probe@127.0.0.1>;tag={call_id[:8]}\r\n"
                f"To: <sip:{self.host}:{self.port}>\r\n"
                f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            sock.sendto(request.encode(), (self.host, self.port))
            try:
                reply = sock.recv(4096)
            except OSError:
                return False
        return reply.startswith(b"SIP/2.0 200")


@dataclass
class Farm:
    """Two sandbox Asterisk servers (A, B) and Kamailio in front of them."""

    a: AsteriskSandbox
    b: AsteriskSandbox
    kamailio: Kamailio

    @classmethod
    def for_slot(
        cls, workdir: Path, customise: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
    ) -> Farm:
        def make(name: str, sip: int, ami: int, rtp: tuple[int, int]) -> AsteriskSandbox:
            data = config_with(**sandbox_settings(name, sip, ami, rtp))
            if customise is not None:
                data = customise(name, data)
            return AsteriskSandbox(settings_from(data))

        a = make("farma", A_SIP, A_AMI, A_RTP)
        b = make("farmb", B_SIP, B_AMI, B_RTP)
        servers = [("127.0.0.1", port(A_SIP)), ("127.0.0.1", port(B_SIP))]
        return cls(a, b, Kamailio(workdir / "kamailio", servers))

    def start(self) -> Farm:
        for box in (self.a, self.b):
            box.down()
            box.forget_state()
            box.up(timeout=120)
        self.kamailio.start()
        return self

    def stop(self) -> None:
        self.kamailio.stop()
        for box in (self.a, self.b):
            box.down()


def channels(box: AsteriskSandbox) -> list[str]:
    """The channel names up in one instance (none while it is down)."""
    if box.pid() is None:
        return []
    out = box.cli("core show channels concise", timeout=10)
    return [line.split("!")[0] for line in out.splitlines() if "!" in line]
