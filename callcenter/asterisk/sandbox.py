"""A real Asterisk for development and tests: a Debian sid root with Asterisk 22, run with chroot.

The root (``Settings.asterisk.sandbox_root``, built once with debootstrap, ~45 s) is shared; each
*instance* (``Settings.asterisk.sandbox_instance``) has its own configuration, state and ports under
``<root>/srv/callcenter/<instance>/`` so a developer's instance and the test suite's can run at the
same time::

    sandbox = AsteriskSandbox(load_settings())
    sandbox.up()                      # build if needed, render config, start, wait for AMI login
    print(sandbox.cli("pjsip show endpoints"))
    sandbox.down()

Configuration files are the templates in ``asterisk_conf/`` (``string.Template`` placeholders,
filled from :class:`~callcenter.settings.Settings`); see docs/asterisk.md. Nothing is mounted into the
root: the chroot shares the host's network, so SIP, RTP, AMI and FastAGI all use the host's
addresses. Asterisk runs as root inside the chroot (``-U`` cannot read the packaged files).

Everything needs root (chroot). Errors are :class:`SandboxError` with a one-line, actionable message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import yaml

from callcenter.settings import AgentSettings, Settings, ip_network, phones

__all__ = [
    "ROOT_PACKAGES",
    "AsteriskSandbox",
    "SandboxError",
    "SandboxStatus",
    "main",
]

log = logging.getLogger(__name__)

#: Debian (sid) packages the root is built with; the marker file lists them.
ROOT_PACKAGES: tuple[str, ...] = (
    "asterisk",
    "asterisk-core-sounds-en-wav",
    "asterisk-moh-opsound-wav",
)
DEBIAN_SUITE = "sid"
#: Written into the root when it is complete; a root without it is rebuilt (or completed).
MARKER_NAME = ".callcenter-root"
#: Where instances live, inside the chroot.
INSTANCES_DIR = PurePosixPath("/srv/callcenter")
ASTERISK_BIN = "/usr/sbin/asterisk"
#: The repository's configuration templates and prompt list (asterisk_conf/ beside the package).
# Beside the package's root (found from this file's folders, so the module may move inside it).
DEFAULT_CONF_DIR = next(p for p in Path(__file__).resolve().parents if p.name == "callcenter").parent / (
    "asterisk_conf"
)
#: Parts (not whole configuration files) repeated per agent / per queue.
_AGENT_TEMPLATE = "pjsip-agent.tmpl"
_QUEUE_TEMPLATE = "queues-queue.tmpl"
_PEER_TEMPLATE = "pjsip-peer.tmpl"
#: Rendered configuration files in which a leftover ``${...}`` is legal (Asterisk variables).
_DIALPLAN_FILES = frozenset({"extensions.conf"})
_PROMPT_VOICE = "slt"
_PROMPT_FORMAT = "flite-slt/sox-8000-mono-s16/v1"
_PROMPT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}

# Processes this Python process started, so that they can be reaped (no zombies) once they exit.
_children: dict[int, subprocess.Popen[bytes]] = {}


class SandboxError(Exception):
    """The sandbox cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class SandboxStatus:
    """What :meth:`AsteriskSandbox.status` reports. ``version`` is set only while running."""

    instance: str
    running: bool
    pid: int | None
    host: str
    sip_port: int
    ami_port: int
    rtp_ports: tuple[int, int]
    version: str | None
    instance_dir: Path


class AsteriskSandbox:
    """One Asterisk instance of the shared sandbox root, configured from :class:`Settings`."""

    def __init__(
        self,
        settings: Settings,
        *,
        conf_dir: Path | None = None,
        prompts_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.conf_dir = conf_dir if conf_dir is not None else DEFAULT_CONF_DIR
        self.prompts_file = prompts_file if prompts_file is not None else self.conf_dir / "prompts.yaml"
        ast = settings.asterisk
        self.root: Path = ast.sandbox_root.absolute()
        self.instance: str = ast.sandbox_instance
        #: The instance directory as Asterisk sees it (inside the chroot) and as the host sees it.
        self.chroot_instance_dir = INSTANCES_DIR / self.instance
        self.instance_dir: Path = self.host_path(self.chroot_instance_dir)
        self.chroot_conf = self.chroot_instance_dir / "etc" / "asterisk" / "asterisk.conf"
        #: Asterisk's log of the current run (the previous run's is ``messages.old``).
        self.log_file: Path = self.instance_dir / "log" / "messages"
        self._last_ami_error = ""

    # ------------------------------------------------------------------ paths

    def host_path(self, chroot_path: str | PurePosixPath) -> Path:
        """The host path of a path inside the chroot (e.g. a MixMonitor recording file)."""
        path = PurePosixPath(chroot_path)
        if not path.is_absolute():
            raise ValueError(f"not an absolute path inside the sandbox: {chroot_path}")
        return self.root.joinpath(*path.parts[1:])

    @property
    def marker(self) -> Path:
        return self.root / MARKER_NAME

    # ------------------------------------------------------------------ build

    def is_built(self) -> bool:
        """Whether the root is complete (marker present, listing every package, Asterisk there)."""
        return _marker_ok(self.root)

    def build(self) -> None:
        """Make sure the root exists and is complete. Idempotent; a complete root is left alone.

        A root without the marker whose packages are all installed is adopted (the marker is
        written); one with Asterisk but missing packages is completed with apt-get inside the
        chroot; anything else is built anew with debootstrap into ``<root>.tmp`` and renamed.
        """
        if self.is_built():
            return
        _require_root("build the Asterisk root")
        self.root.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.root.parent / f".{self.root.name}.lock"):
            if self.is_built():
                return
            if self._adopt_existing():
                return
            self._debootstrap()

    def _adopt_existing(self) -> bool:
        if not (self.root / ASTERISK_BIN.lstrip("/")).exists():
            return False
        missing = [p for p in ROOT_PACKAGES if p not in _installed_packages(self.root)]
        if missing:
            log.info("completing the Asterisk root: apt-get install %s", " ".join(missing))
            ok = self._chroot_apt_install(missing)
            missing = [p for p in ROOT_PACKAGES if p not in _installed_packages(self.root)]
            if not ok or missing:
                log.warning("could not complete the existing root; building it anew")
                return False
        _write_marker(self.root)
        log.info("Asterisk root %s is complete", self.root)
        return True

    def _chroot_apt_install(self, packages: list[str]) -> bool:
        logfile = self.root.parent / f"{self.root.name}.build.log"
        with logfile.open("ab") as out:
            for cmd in (
                # Best effort: a mirror whose Release file looks expired (clock skew) must not
                # stop the install from the lists debootstrap left.
                ["apt-get", "-o", "Acquire::Check-Valid-Until=false", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends", *packages],
            ):
                try:
                    done = subprocess.run(
                        ["chroot", str(self.root), *cmd],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env={**_CLEAN_ENV, "DEBIAN_FRONTEND": "noninteractive"},
                        timeout=900,
                        check=False,
                    )
                except (OSError, subprocess.TimeoutExpired) as err:
                    log.warning("%s failed: %s", " ".join(cmd), err)
                    return False
                if done.returncode != 0 and cmd[-1] != "update":
                    return False
        return True

    def _debootstrap(self) -> None:
        debootstrap = shutil.which("debootstrap")
        if debootstrap is None:
            raise SandboxError(
                "debootstrap is not installed: run `apt-get install debootstrap` and try again"
            )
        tmp = self.root.with_name(self.root.name + ".tmp")
        if tmp.exists():
            _remove_tree(tmp)
        logfile = self.root.parent / f"{self.root.name}.build.log"
        cmd = [
            debootstrap,
            "--variant=minbase",
            "--include=" + ",".join(ROOT_PACKAGES),
            DEBIAN_SUITE,
            str(tmp),
        ]
        log.info("building the Asterisk root: %s (log: %s)", " ".join(cmd), logfile)
        with logfile.open("wb") as out:
            try:
                done = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**_CLEAN_ENV, "DEBIAN_FRONTEND": "noninteractive"},
                    timeout=1800,
                    check=False,
                )
            except subprocess.TimeoutExpired as err:
                raise SandboxError(f"debootstrap did not finish in 30 min; see {logfile}") from err
        if done.returncode != 0:
            raise SandboxError(
                f"building the Asterisk root failed (debootstrap exit {done.returncode}: "
                f"{_last_line(logfile)}); see {logfile}"
            )
        missing = [p for p in ROOT_PACKAGES if p not in _installed_packages(tmp)]
        if missing or not (tmp / ASTERISK_BIN.lstrip("/")).exists():
            raise SandboxError(
                f"debootstrap finished but {', '.join(missing) or 'asterisk'} is missing in {tmp}; "
                f"see {logfile}"
            )
        _write_marker(tmp)
        old: Path | None = None
        if self.root.exists() or self.root.is_symlink():
            old = self.root.with_name(f"{self.root.name}.old-{os.getpid()}")
            self.root.rename(old)
        tmp.rename(self.root)
        if old is not None:
            _remove_tree(old)
        log.info("Asterisk root built at %s", self.root)

    # ------------------------------------------------------------------ configuration

    def template_values(self) -> dict[str, str]:
        """The values of the ``${NAME}`` placeholders of the templates in ``asterisk_conf/``."""
        s = self.settings
        ast = s.asterisk
        values = {
            "HOST": ast.host,
            "SIP_PORT": str(ast.sip_port),
            "RTP_START": str(ast.rtp_port_start),
            "RTP_END": str(ast.rtp_port_end),
            "AMI_PORT": str(ast.ami_port),
            "AMI_BIND_HOST": ast.ami_bind_host if ast.ami_bind_host is not None else ast.host,
            "WEBRTC_PORT": str(ast.http_port),
            "WEBRTC_BIND_HOST": ast.webrtc_bind_host if ast.webrtc_bind_host is not None else ast.host,
            "AMI_PERMIT": "\n".join(f"permit = {_acl_network(n)}" for n in ast.ami_permit),
            "TRANSPORT_NAT": _transport_nat(ast.external_address, ast.local_nets),
            "AMI_USERNAME": ast.ami_username,
            "AMI_SECRET": _conf_value("asterisk.ami_secret", ast.ami_secret.get_secret_value()),
            "AGI_HOST": s.agi.host,
            "AGI_PORT": str(s.agi.port),
            "AGI_NODES": "|".join([f"{s.agi.host}:{s.agi.port}", *s.agi.nodes]),
            "AGI_RETRY": "1" if s.agi.nodes else "0",
            "AGENT_PASSWORD": _conf_value("asterisk.agent_password", ast.agent_password.get_secret_value()),
            "TRUNK_USERNAME": ast.trunk_username,
            "TRUNK_PASSWORD": _conf_value("asterisk.trunk_password", ast.trunk_password.get_secret_value()),
            "INBOUND_NUMBER": ast.inbound_number,
            "INSTANCE": self.instance,
            "INSTANCE_DIR": str(self.chroot_instance_dir),
            "ASTMODDIR": _module_dir(self.root),
        }
        for key in ("ami_username", "trunk_username", "inbound_number"):
            if not re.fullmatch(r"[A-Za-z0-9_.+-]{1,64}", getattr(ast, key)):
                raise SandboxError(
                    f"asterisk.{key} must be 1-64 letters, digits or _.+- (got {getattr(ast, key)!r})"
                )
        values["AGENT_ENDPOINTS"] = self._agent_endpoints(values)
        values["AGENT_DIAL_EXTENSIONS"] = "\n".join(
            # The server's rule (asterisk/devices.py): the browser softphone while it is registered,
            # else the desk phone.
            f"exten => {agent.extension},1,"
            f"Set(CC_WEB=${{PJSIP_DIAL_CONTACTS(${{EXTEN}}{phones.WEB_SUFFIX})}})\n"
            ' same => n,Dial(${IF($["${CC_WEB}" = ""]?PJSIP/${EXTEN}:${CC_WEB})},30)\n'
            " same => n,Hangup()"
            for agent in s.agents
        )
        values["QUEUES"] = self._queues()
        values["PEER_ENDPOINTS"] = self._peer_endpoints()
        return values

    def _peer_endpoints(self) -> str:
        """pjsip.conf trunks to the other servers of ``asterisk.servers``, when this instance is one
        of them (``asterisk.server_name``)."""
        ast = self.settings.asterisk
        if ast.server_name is None:
            return "; (none: this Asterisk is not one of asterisk.servers)"
        template = _Template(self._read_template(_PEER_TEMPLATE))
        secret = _conf_value("asterisk.peer_secret", ast.peer_secret.get_secret_value())
        return "\n".join(
            template.substitute(
                PEER=peer.name,
                ME=ast.server_name,
                PEER_HOST=peer.host,
                PEER_SIP_PORT=str(peer.sip_port),
                PEER_SECRET=secret,
            )
            for peer in ast.servers
            if peer.name != ast.server_name
        )

    def _queues(self) -> str:
        """queues.conf sections: one per queue named by an agent, its agents as members."""
        members: dict[str, list[AgentSettings]] = {}
        for agent in self.settings.agents:
            for queue in agent.queues:
                if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", queue):
                    raise SandboxError(
                        f"agent {agent.id}: queue name {queue!r} must be 1-64 letters, digits or _.-"
                    )
                members.setdefault(queue, []).append(agent)
        template = _Template(self._read_template(_QUEUE_TEMPLATE))
        ring_timeout = str(max(1, round(self.settings.acd.ring_timeout)))
        return "\n".join(
            template.substitute(
                QUEUE=queue,
                RING_TIMEOUT=ring_timeout,
                MEMBERS="\n".join(
                    f"member => PJSIP/{a.extension},0,{_agent_values(a)['AGENT_NAME']}" for a in agents
                ),
            )
            for queue, agents in members.items()
        )

    def _agent_endpoints(self, values: Mapping[str, str]) -> str:
        template = self._read_template(_AGENT_TEMPLATE)
        return agent_endpoints(template, self.settings, self.settings.agents, values)

    def _read_template(self, name: str) -> str:
        try:
            return (self.conf_dir / name).read_text(encoding="utf-8")
        except OSError as err:
            raise SandboxError(f"cannot read template {self.conf_dir / name}: {err.strerror}") from err

    def render(self) -> dict[str, str]:
        """Render every ``asterisk_conf/*.conf`` template: file name -> text. Writes nothing."""
        values = self.template_values()
        templates = sorted(self.conf_dir.glob("*.conf"))
        if not templates:
            raise SandboxError(f"no Asterisk configuration templates (*.conf) in {self.conf_dir}")
        out: dict[str, str] = {}
        for path in templates:
            text = _Template(self._read_template(path.name)).safe_substitute(values)
            if path.name not in _DIALPLAN_FILES:
                code = "\n".join(re.split(r"(?<!\\);", line, maxsplit=1)[0] for line in text.splitlines())
                left = re.search(r"\$\{[^}]*\}", code)
                if left:
                    raise SandboxError(
                        f"{path}: unknown placeholder {left.group(0)} (known: {', '.join(sorted(values))})"
                    )
            out[path.name] = text
        return out

    def render_config(self) -> list[str]:
        """Write the rendered configuration into the instance; returns the names of changed files."""
        rendered = self.render()
        etc = self.instance_dir / "etc" / "asterisk"
        etc.mkdir(parents=True, exist_ok=True)
        changed = []
        for name, text in rendered.items():
            target = etc / name
            try:
                if target.read_text(encoding="utf-8") == text:
                    continue
            except OSError:
                pass
            _atomic_write(target, text.encode("utf-8"), mode=0o640)
            changed.append(name)
        for stale in etc.glob("*.conf"):
            if stale.name not in rendered:
                stale.unlink()
                changed.append(stale.name)
        return changed

    def _prepare_instance(self) -> None:
        for sub in ("etc/asterisk", "run", "log", "spool/monitor", "lib", "keys", "cache"):
            (self.instance_dir / sub).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ prompts

    def prompts_dir(self) -> Path:
        """Host path of the sandbox's ``sounds/en/callcenter`` (``sounds/en`` is a symlink)."""
        return _resolve_in_root(self.root, "/usr/share/asterisk/sounds/en") / "callcenter"

    def install_prompts(self) -> list[str]:
        """Render ``prompts.yaml`` with flite + sox into the root; returns the names (re)rendered.

        A prompt is rendered only when its text (or the rendering recipe) changed or its file is
        missing; prompts removed from the YAML file are deleted.
        """
        prompts = _load_prompts(self.prompts_file)
        if not self.root.exists():
            raise SandboxError(f"the Asterisk root {self.root} does not exist: run build first")
        with _locked(self.root.parent / f".{self.root.name}.lock"):
            target = self.prompts_dir()
            target.mkdir(parents=True, exist_ok=True)
            manifest_path = target / ".prompts.json"
            try:
                loaded = json.loads(manifest_path.read_text(encoding="utf-8"))
                manifest: dict[str, str] = (
                    {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
                )
            except (OSError, ValueError):
                manifest = {}
            rendered = []
            for name, text in prompts.items():
                digest = hashlib.sha256(f"{_PROMPT_FORMAT}\n{text}".encode()).hexdigest()
                wav = target / f"{name}.wav"
                if manifest.get(name) == digest and wav.exists():
                    continue
                _render_prompt(text, wav)
                manifest[name] = digest
                rendered.append(name)
            for name in sorted(set(manifest) - set(prompts)):
                with contextlib.suppress(FileNotFoundError):
                    (target / f"{name}.wav").unlink()
                del manifest[name]
                rendered.append(name)
            if rendered:
                _atomic_write(manifest_path, json.dumps(manifest, indent=1, sort_keys=True).encode())
        return rendered

    # ------------------------------------------------------------------ run

    def pid(self) -> int | None:
        """The pid of this instance's Asterisk, or None when it is not running."""
        _reap_children()
        pids = _find_asterisk_pids(self.root, str(self.chroot_conf))
        return pids[0] if pids else None

    def up(self, timeout: float = 60.0) -> SandboxStatus:
        """Build if needed, render the configuration and start Asterisk; wait for an AMI login.

        Idempotent: with this instance already running and answering on AMI, and its
        configuration unchanged, nothing happens. A changed configuration restarts it; a stale pid
        file or crashed run is cleaned up; an instance that does not answer is killed and started
        again. Raises :class:`SandboxError` when a port is taken by another program.
        ``timeout`` bounds the wait for Asterisk to answer, not a first build of the root.
        """
        _require_root("start Asterisk")
        self.build()  # not counted in ``timeout``: a first build takes about a minute
        deadline = time.monotonic() + timeout
        self._prepare_instance()
        with _locked(self.instance_dir / ".lock"):
            changed = self.render_config()
            self.install_prompts()
            pid = self.pid()
            if pid is not None:
                if changed:
                    log.info("configuration changed (%s): restarting", ", ".join(changed))
                    self._stop(pid)
                elif self._wait_ready(pid, min(deadline, time.monotonic() + 10.0)):
                    return self.status()
                else:
                    log.warning(
                        "Asterisk instance %r (pid %d) does not answer: restarting", self.instance, pid
                    )
                    self._stop(pid, graceful=False)
            self._clean_run_dir()
            self._check_ports(wait=3.0 if pid is not None else 0.0)
            pid = self._start()
            if not self._wait_ready(pid, deadline):
                alive = _pid_alive(pid)
                if alive:
                    self._stop(pid, graceful=False)
                why = "did not answer an AMI login" if alive else "exited"
                raise SandboxError(
                    f"Asterisk instance {self.instance!r} {why} within {timeout:g} s "
                    f"({self._failure_hint()}); see {self.log_file}"
                )
            log.info("Asterisk instance %r up (pid %d)", self.instance, pid)
        return self.status()

    def down(self, timeout: float = 20.0) -> None:
        """Stop this instance (``core stop now``, then SIGTERM, then SIGKILL). Idempotent."""
        if not self.instance_dir.exists():
            return
        _require_root("stop Asterisk")
        with _locked(self.instance_dir / ".lock"):
            pid = self.pid()
            if pid is not None:
                self._stop(pid, timeout=timeout)
            self._clean_run_dir()

    def fresh(self, timeout: float = 60.0) -> SandboxStatus:
        """Up from a clean start: stopped if running, its astdb forgotten (no registration left
        from an earlier run), started again."""
        self.down()
        self.forget_state()
        return self.up(timeout=timeout)

    def forget_state(self) -> None:
        """Delete the instance's astdb (registrations, device states). Only while it is down.

        Asterisk keeps SIP registrations in astdb across restarts; a test session starts from none.
        """
        if self.pid() is not None:
            raise SandboxError(f"Asterisk instance {self.instance!r} is running: stop it first")
        for path in (self.instance_dir / "lib").glob("astdb.sqlite3*"):
            path.unlink()

    def status(self) -> SandboxStatus:
        ast = self.settings.asterisk
        pid = self.pid()
        version: str | None = None
        if pid is not None:
            try:
                lines = self.cli("core show version", timeout=5).strip().splitlines()
                version = lines[0].strip() if lines else None
            except SandboxError:
                version = None
        return SandboxStatus(
            instance=self.instance,
            running=pid is not None,
            pid=pid,
            host=ast.host,
            sip_port=ast.sip_port,
            ami_port=ast.ami_port,
            rtp_ports=(ast.rtp_port_start, ast.rtp_port_end),
            version=version,
            instance_dir=self.instance_dir,
        )

    def cli(self, command: str, timeout: float = 30.0) -> str:
        """Run an Asterisk CLI command (``asterisk -rx``) on this instance; returns its output."""
        _require_root("run Asterisk CLI commands")
        if not (self.root / ASTERISK_BIN.lstrip("/")).exists():
            raise SandboxError(f"no Asterisk root at {self.root}: run `callcenter asterisk build`")
        try:
            done = subprocess.run(
                self._asterisk_cmd("-rx", command),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=dict(_CLEAN_ENV),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise SandboxError(f"Asterisk CLI command {command!r} timed out after {timeout:g} s") from err
        output = done.stdout.decode("utf-8", "replace")
        if done.returncode != 0 or output.startswith("Unable to connect to remote asterisk"):
            detail = (output + done.stderr.decode("utf-8", "replace")).strip().splitlines()
            raise SandboxError(
                f"Asterisk CLI command {command!r} failed on instance {self.instance!r} "
                f"({detail[0] if detail else f'exit {done.returncode}'}); is it up?"
            )
        return output

    def read_log(self) -> str:
        """Asterisk's log (``messages``) of the current run."""
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    # ------------------------------------------------------------------ internals

    def _asterisk_cmd(self, *args: str) -> list[str]:
        return ["chroot", str(self.root), ASTERISK_BIN, "-C", str(self.chroot_conf), *args]

    def _start(self) -> int:
        logdir = self.instance_dir / "log"
        if self.log_file.exists():
            self.log_file.replace(logdir / "messages.old")
        console: IO[bytes]
        with (logdir / "console.log").open("ab") as console:
            console.write(f"--- start {time.strftime('%F %T')}\n".encode())
            console.flush()
            proc = subprocess.Popen(
                self._asterisk_cmd("-f", "-n"),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=dict(_CLEAN_ENV),
                start_new_session=True,
                close_fds=True,
            )
        _children[proc.pid] = proc
        log.info("started Asterisk instance %r (pid %d)", self.instance, proc.pid)
        return proc.pid

    def _wait_ready(self, pid: int, deadline: float) -> bool:
        ast = self.settings.asterisk
        secret = ast.ami_secret.get_secret_value()
        while True:
            if not _pid_alive(pid):
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                if _ami_login(
                    ast.host, ast.ami_port, ast.ami_username, secret, timeout=min(3.0, max(remaining, 0.2))
                ):
                    return True
            except _AmiAuthError as err:
                self._last_ami_error = str(err)
            except OSError as err:
                self._last_ami_error = str(err)
            time.sleep(0.1)

    def _failure_hint(self) -> str:
        errors = [line for line in self.read_log().splitlines() if "ERROR[" in line]
        if errors:
            return "last error: " + errors[-1].split("] ", 1)[-1][:200]
        return f"AMI: {self._last_ami_error}" if self._last_ami_error else "no error logged"

    def _stop(self, pid: int, *, timeout: float = 20.0, graceful: bool = True) -> None:
        if graceful:
            with contextlib.suppress(SandboxError):
                self.cli("core stop now", timeout=min(10.0, timeout))
            if _wait_exit(pid, timeout / 2):
                return
        steps = ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)) if graceful else ((signal.SIGKILL, 5.0),)
        for sig, wait in steps:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if _wait_exit(pid, wait):
                return
        raise SandboxError(f"Asterisk (pid {pid}) did not exit after SIGKILL; check `ps {pid}`")

    def _clean_run_dir(self) -> None:
        for name in ("asterisk.ctl", "asterisk.pid"):
            with contextlib.suppress(FileNotFoundError):
                (self.instance_dir / "run" / name).unlink()

    def _check_ports(self, wait: float = 0.0) -> None:
        """Raise SandboxError when the SIP or AMI port is taken (retrying for ``wait`` seconds,
        for sockets of a process that was just stopped)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self._check_ports_once()
                return
            except SandboxError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def _check_ports_once(self) -> None:
        ast = self.settings.asterisk
        checks = (
            ("udp", socket.SOCK_DGRAM, ast.sip_port, "asterisk.sip_port"),
            ("tcp", socket.SOCK_STREAM, ast.ami_port, "asterisk.ami_port"),
            ("tcp", socket.SOCK_STREAM, ast.http_port, "asterisk.webrtc_port"),
        )
        for proto, kind, port, key in checks:
            with socket.socket(socket.AF_INET, kind) as sock:
                if kind == socket.SOCK_STREAM:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((ast.host, port))
                except OSError as err:
                    if err.errno == errno.EADDRNOTAVAIL:
                        raise SandboxError(
                            f"asterisk.host {ast.host} is not an address of this machine"
                        ) from err
                    if err.errno not in (errno.EADDRINUSE, errno.EACCES):
                        raise
                    owner = _port_owner(proto, port)
                    raise SandboxError(
                        f"{proto.upper()} port {ast.host}:{port} ({key}) is already in use"
                        f"{' by ' + owner if owner else ''}; stop it or choose another "
                        f"port for instance {self.instance!r}"
                    ) from err


# ---------------------------------------------------------------------- helpers


class _Template(string.Template):
    """``${NAME}`` placeholders only; ``$[...]`` and Asterisk's own ``${VAR}`` pass through."""

    braceidpattern = r"[A-Z][A-Z0-9_]*"
    idpattern = r"(?!)"  # never match a bare $NAME
    flags = re.NOFLAG


class _AmiAuthError(Exception):
    pass


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            f"root is needed to {what} (the sandbox uses chroot): run as root, "
            "e.g. `sudo scripts/asterisk-sandbox.sh up`"
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _conf_value(key: str, value: str) -> str:
    """A value for an Asterisk config file: no line breaks; ``;`` (comment) escaped."""
    if not value or any(c in value for c in "\r\n\0"):
        raise SandboxError(f"{key} must be a non-empty single line")
    return value.replace(";", r"\;")


def _acl_network(value: str) -> str:
    """A network as Asterisk's ACLs (manager.conf permit=, pjsip.conf local_net=) take it:
    "10.0.0.0/255.0.0.0" for IPv4 (the form of Asterisk's sample files), "fd00::/8" for IPv6."""
    net = ip_network(value)
    if net.version == 4:
        return f"{net.network_address}/{net.netmask}"
    return f"{net.network_address}/{net.prefixlen}"


def _transport_nat(external_address: str | None, local_nets: tuple[str, ...]) -> str:
    """The NAT lines of the PJSIP transport; only the settings that are set."""
    lines = []
    if external_address is not None:
        address = _conf_value("asterisk.external_address", external_address)
        lines += [f"external_media_address = {address}", f"external_signaling_address = {address}"]
    lines += [f"local_net = {_acl_network(net)}" for net in local_nets]
    return "\n".join(lines) or "; (no NAT: asterisk.external_address and asterisk.local_nets unset)"


def agent_endpoints(
    template: str,
    settings: Settings,
    agents: Iterable[AgentSettings],
    values: Mapping[str, str] | None = None,
) -> str:
    """The PJSIP sections of ``agents`` (desk phone and ``<ext>-web``) from ``pjsip-agent.tmpl``:
    the sandbox's pjsip.conf (``values``: all its placeholders, which other configurations' agent
    templates use, e.g. bench/load_asterisk's ${HOST}) and the agents added at runtime
    (asterisk/added_agents.py)."""
    ast = settings.asterisk
    password = ast.agent_password.get_secret_value()
    shared = {**(values or {}), "AGENT_PASSWORD": _conf_value("asterisk.agent_password", password)}
    blocks = []
    for agent in agents:
        web = phones.web_password(password, agent.extension)
        blocks.append(_Template(template).safe_substitute(shared, **_agent_values(agent), WEB_PASSWORD=web))
    return "\n".join(blocks)


def read_agent_template(conf_dir: Path = DEFAULT_CONF_DIR) -> str:
    try:
        return (conf_dir / _AGENT_TEMPLATE).read_text(encoding="utf-8")
    except OSError as err:
        raise SandboxError(f"cannot read template {conf_dir / _AGENT_TEMPLATE}: {err.strerror}") from err


def _agent_values(agent: AgentSettings) -> dict[str, str]:
    name = re.sub(r'["<>\\;\r\n]', "", agent.name).strip() or agent.id
    return {"EXTENSION": agent.extension, "AGENT_ID": agent.id, "AGENT_NAME": name}


def _installed_packages(root: Path) -> set[str]:
    """Packages whose dpkg status is "install ok installed" in ``root``."""
    try:
        text = (root / "var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    installed = set()
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        if fields.get("Status") == "install ok installed" and "Package" in fields:
            installed.add(fields["Package"])
    return installed


def _marker_ok(root: Path) -> bool:
    try:
        lines = (root / MARKER_NAME).read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    listed = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    return set(ROOT_PACKAGES) <= listed and (root / ASTERISK_BIN.lstrip("/")).exists()


def _write_marker(root: Path) -> None:
    text = (
        "# callcenter Asterisk sandbox root: complete (written by callcenter.asterisk.sandbox).\n"
        f"# Debian {DEBIAN_SUITE}, debootstrap --variant=minbase; packages, one a line:\n"
        + "".join(f"{p}\n" for p in ROOT_PACKAGES)
    )
    _atomic_write(root / MARKER_NAME, text.encode())


def _module_dir(root: Path) -> str:
    """astmoddir from the root's stock asterisk.conf (architecture-specific)."""
    try:
        text = (root / "etc/asterisk/asterisk.conf").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    match = re.search(r"^\s*astmoddir\s*=>?\s*(\S+)", text, re.MULTILINE)
    if match:
        return match.group(1)
    found = sorted(root.glob("usr/lib/*/asterisk/modules"))
    if found:
        return "/" + str(found[0].relative_to(root))
    return "/usr/lib/asterisk/modules"


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    mounts = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) > 4:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[4])
            if point == prefix or point.startswith(prefix + "/"):
                mounts.append(point)
    return mounts


def _remove_tree(path: Path) -> None:
    """Delete a (partial) root, refusing while anything is mounted inside it."""
    for point in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", point], check=False, capture_output=True)
    left = _mounts_under(path)
    if left:
        raise SandboxError(f"cannot remove {path}: still mounted: {left[0]} (umount it first)")
    shutil.rmtree(path)


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip()[:200] if lines else "no output"


def _resolve_in_root(root: Path, chroot_path: str) -> Path:
    """Resolve ``chroot_path`` the way the chroot sees it: absolute symlinks point into ``root``."""
    parts = list(PurePosixPath(chroot_path).parts[1:])
    current = PurePosixPath("/")
    hops = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        host = root.joinpath(*candidate.parts[1:])
        if host.is_symlink():
            hops += 1
            if hops > 40:
                raise SandboxError(f"too many symlinks resolving {chroot_path} in {root}")
            link = PurePosixPath(os.readlink(host))
            parts = list(link.parts[1:] if link.is_absolute() else link.parts) + parts
            current = PurePosixPath("/") if link.is_absolute() else current
            continue
        current = candidate
    return root.joinpath(*current.parts[1:])


def _load_prompts(path: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SandboxError(f"cannot read {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise SandboxError(f"{path}: invalid YAML: {err}") from err
    if not isinstance(data, dict):
        raise SandboxError(f"{path}: must map prompt name -> text")
    prompts: dict[str, str] = {}
    for name, text in data.items():
        if not isinstance(name, str) or not _PROMPT_NAME.match(name):
            raise SandboxError(f"{path}: bad prompt name {name!r} (lowercase letters, digits, -, _)")
        if not isinstance(text, str) or not text.strip():
            raise SandboxError(f"{path}: prompt {name!r} needs a non-empty text")
        prompts[name] = text.strip()
    return prompts


def _render_prompt(text: str, wav: Path) -> None:
    for tool, package in (("flite", "flite"), ("sox", "sox")):
        if shutil.which(tool) is None:
            raise SandboxError(f"{tool} is not installed (needed for prompts): apt-get install {package}")
    with tempfile.TemporaryDirectory(prefix="callcenter-prompt-") as tmp:
        raw = Path(tmp) / "raw.wav"
        out = Path(tmp) / "out.wav"
        for cmd in (
            ["flite", "-voice", _PROMPT_VOICE, "-t", text, "-o", str(raw)],
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(out)],
        ):
            done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
            if done.returncode != 0:
                err = done.stderr.decode(errors="replace").strip().splitlines()
                raise SandboxError(
                    f"rendering prompt {wav.stem!r} failed: {cmd[0]}: {err[-1] if err else 'error'}"
                )
        _atomic_write(wav, out.read_bytes())


def _proc_pids() -> list[int]:
    with os.scandir("/proc") as entries:
        return [int(e.name) for e in entries if e.name.isdigit()]


def _proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1]]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` still runs. A zombie whose threads are still exiting (and may still hold
    its sockets) counts as alive; our own children are waited for."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    if not Path(f"/proc/{pid}").exists():
        return False
    if not _is_zombie(pid):
        return True
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def _reap_children() -> None:
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            del _children[pid]


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def _find_asterisk_pids(root: Path, conf: str) -> list[int]:
    """Asterisk daemons (not remote consoles) running in ``root`` with ``-C conf``."""
    try:
        root_real = os.path.realpath(root)
    except OSError:
        return []
    found = []
    for pid in _proc_pids():
        args = _proc_cmdline(pid)
        if not args or os.path.basename(args[0]) != "asterisk" or "-C" not in args:
            continue
        index = args.index("-C")
        if index + 1 >= len(args) or args[index + 1] != conf:
            continue
        if any(
            a.startswith("-") and not a.startswith("--") and ("r" in a or "R" in a)
            for a in args[1:]
            if a != "-C"
        ):
            continue  # a remote console (-r, -rx, -R)
        try:
            if os.readlink(f"/proc/{pid}/root") != root_real:
                continue
        except OSError:
            continue
        if not _is_zombie(pid):
            found.append(pid)
    return sorted(found)


def _port_owner(proto: str, port: int) -> str:
    """Who holds ``port`` ("pid 123 (python3)", or an Asterisk sandbox instance); "" if unknown."""
    inodes = set()
    for table in (proto, proto + "6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and int(cols[1].rsplit(":", 1)[1], 16) == port:
                if proto == "tcp" and cols[3] != "0A":  # LISTEN only
                    continue
                inodes.add(cols[9])
    if not inodes:
        return ""
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in _proc_pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") not in targets:
                    continue
            except OSError:
                continue
            args = _proc_cmdline(pid)
            if args and os.path.basename(args[0]) == "asterisk" and "-C" in args:
                conf = args[args.index("-C") + 1] if args.index("-C") + 1 < len(args) else ""
                match = re.match(rf"{INSTANCES_DIR}/([^/]+)/", conf)
                if match:
                    return f"sandbox instance {match.group(1)!r} (pid {pid})"
            name = os.path.basename(args[0]) if args else "?"
            return f"pid {pid} ({name})"
    return ""


def _ami_login(host: str, port: int, username: str, secret: str, timeout: float) -> bool:
    """Log in to AMI; True once logged in and Asterisk reports FullyBooted.

    Raises :class:`_AmiAuthError` when Asterisk refuses the credentials, OSError when it cannot
    be reached.
    """
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        buffer = b""

        def read_message() -> dict[str, str] | None:
            nonlocal buffer
            while b"\r\n\r\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(4096)
                except TimeoutError:
                    return None
                if not chunk:
                    raise ConnectionResetError("AMI closed the connection")
                buffer += chunk
            raw, buffer = buffer.split(b"\r\n\r\n", 1)
            fields: dict[str, str] = {}
            for line in raw.decode(errors="replace").split("\r\n"):
                key, sep, value = line.partition(":")
                if sep:
                    fields.setdefault(key.strip().lower(), value.strip())
            return fields

        # Banner: "Asterisk Call Manager/x.y.z\r\n"
        while b"\r\n" not in buffer:
            sock.settimeout(max(deadline - time.monotonic(), 0.05))
            chunk = sock.recv(1024)
            if not chunk:
                raise ConnectionResetError("AMI closed the connection")
            buffer += chunk
        _banner, buffer = buffer.split(b"\r\n", 1)
        sock.sendall(
            f"Action: Login\r\nActionID: sandbox-probe\r\nUsername: {username}\r\n"
            f"Secret: {secret}\r\n\r\n".encode()
        )
        logged_in = False
        booted = False
        while not (logged_in and booted):
            message = read_message()
            if message is None:
                return False
            if message.get("actionid") == "sandbox-probe" and "response" in message:
                if message["response"].lower() != "success":
                    raise _AmiAuthError(message.get("message", "login refused"))
                logged_in = True
            elif message.get("event") == "FullyBooted":
                booted = True
        with contextlib.suppress(OSError):
            sock.sendall(b"Action: Logoff\r\n\r\n")
        return True


# ---------------------------------------------------------------------- CLI


def main(action: str, settings: Settings) -> int:
    """``callcenter asterisk up|down|status|build``: human-friendly lines, exit code 0 when done.

    ``status`` returns 0 when the instance runs and 3 when it does not; errors print one line to
    stderr and return 1.
    """
    sandbox = AsteriskSandbox(settings)
    name = sandbox.instance
    try:
        if action == "build":
            if sandbox.is_built():
                print(f"Asterisk root {sandbox.root} is complete")
                return 0
            print(f"Building the Asterisk root {sandbox.root} (debootstrap, about a minute)...", flush=True)
            started = time.monotonic()
            sandbox.build()
            print(f"Asterisk root ready in {time.monotonic() - started:.0f} s")
            return 0
        if action == "up":
            if not sandbox.is_built():
                print(f"Building the Asterisk root {sandbox.root} first (about a minute)...", flush=True)
            started = time.monotonic()
            status = sandbox.up()
            print(f"Asterisk instance {name!r} is up ({time.monotonic() - started:.1f} s)")
            _print_status(sandbox, status)
            return 0
        if action == "down":
            was = sandbox.pid()
            sandbox.down()
            print(f"Asterisk instance {name!r} is down" + ("" if was else " (was not running)"))
            return 0
        if action == "status":
            status = sandbox.status()
            if not status.running:
                print(
                    f"Asterisk instance {name!r} is not running "
                    f"(root {'ready' if sandbox.is_built() else 'not built'}: {sandbox.root})"
                )
                return 3
            print(f"Asterisk instance {name!r} is running")
            _print_status(sandbox, status)
            return 0
        print(f"error: unknown action {action!r} (use up, down, status or build)", file=sys.stderr)
        return 2
    except SandboxError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _print_status(sandbox: AsteriskSandbox, status: SandboxStatus) -> None:
    ast = sandbox.settings.asterisk
    print(f"  pid       {status.pid}  {status.version or ''}".rstrip())
    print(
        f"  SIP       udp {status.host}:{status.sip_port}  (agents "
        f"{', '.join(a.extension for a in sandbox.settings.agents[:3])}"
        f"{'...' if len(sandbox.settings.agents) > 3 else ''}; trunk {ast.trunk_username}; "
        f"inbound number {ast.inbound_number})"
    )
    print(f"  AMI       tcp {status.host}:{status.ami_port}  user {ast.ami_username}")
    print(f"  RTP       udp {status.rtp_ports[0]}-{status.rtp_ports[1]}")
    print(f"  FastAGI   agi://{sandbox.settings.agi.host}:{sandbox.settings.agi.port}/inbound")
    print(f"  files     {status.instance_dir}  (log: {sandbox.log_file})")


def _cli() -> int:
    from callcenter.settings import ConfigError, load_settings

    if len(sys.argv) != 2:
        print("usage: python -m callcenter.asterisk.sandbox up|down|status|build", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return main(sys.argv[1], settings)


if __name__ == "__main__":
    raise SystemExit(_cli())
