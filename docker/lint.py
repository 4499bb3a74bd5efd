#!/usr/bin/env python3
"""Static checks of the files in docker/ (no Docker engine needed).

CI has no Docker engine, so the images are never built there; this keeps the files honest instead:

* compose.yaml (alone and with compose.host-network.yaml) parses; every ``${VAR}`` it uses is in
  .env.example and every variable there is used; the services, build contexts and Dockerfiles exist.
* Each service's ``CALLCENTER_*`` variables, interpolated with .env.example and with the YAML file
  that ``CALLCENTER_CONFIG`` names mapped to its bind-mount source, load through
  :func:`callcenter.settings.load_settings` (unknown keys and bad values fail, as they would in the
  container), and the asterisk container's settings render the asterisk_conf/ templates.
* Asterisk and the server agree on AMI (port, user, secret) and FastAGI and can reach each other:
  either over one internal network with a fixed subnet (compose.yaml: each side names the other,
  AMI binds Asterisk's address there and asterisk.ami_permit covers the server's), or over
  loopback (both on the host's network, or one namespace: AMI must permit 127.0.0.1). The
  published SIP/RTP/HTTP ports are the configured ones; AMI and FastAGI are never published.
* Every COPY/ADD source of the Dockerfiles exists in the repository and is not dropped by the
  Dockerfile's .dockerignore; ``--from`` names a stage; the final stage has a non-root USER, a
  HEALTHCHECK and an ENTRYPOINT; the Asterisk image installs the sandbox's packages.
* callcenter.settings and callcenter.asterisk.sandbox (the Asterisk image's renderer) import only the standard
  library, PyYAML and pydantic: the image provides those from Debian, not the package's other
  dependencies.

Run ``.venv/bin/python docker/lint.py`` (exit 1 with one line per problem), or the unit test
tests/unit/test_docker_files.py.
"""

from __future__ import annotations

import ast
import importlib.util
import ipaddress
import json
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

DOCKER = Path(__file__).resolve().parent
REPO = DOCKER.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from callcenter.settings import ConfigError, Settings, load_settings  # noqa: E402

COMPOSE = DOCKER / "compose.yaml"
HOST_NETWORK = DOCKER / "compose.host-network.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
IMAGES = ("asterisk", "server", "postgres", "redis", "kamailio")
DOCKERFILES = tuple(DOCKER / name / "Dockerfile" for name in IMAGES)
RENDER_SCRIPT = DOCKER / "asterisk" / "render_config.py"
SHELL_SCRIPTS = tuple(DOCKER / name / "entrypoint.sh" for name in IMAGES)
# The cluster deployment (host networking, images from scripts/docker_build.sh).
CLUSTER = DOCKER / "compose.cluster.yml"
BUILD_SCRIPT = REPO / "scripts" / "docker_build.sh"
CLUSTER_SERVICES = ("postgres", "redis", "asterisk", "kamailio", "node1", "node2")
CLUSTER_NODES = ("node1", "node2")
CLUSTER_PORTS = range(17000, 18000)
SERVICES = ("asterisk", "server", "postgres", "redis")
CONFIG_VAR = "CALLCENTER_CONFIG"
# Imports the Asterisk image can satisfy (Debian's python3, python3-yaml, python3-pydantic).
RENDERER_MODULES = (
    "callcenter/settings/__init__.py",
    "callcenter/settings/base.py",
    "callcenter/settings/loader.py",
    "callcenter/settings/messaging.py",
    "callcenter/settings/recording.py",
    "callcenter/settings/security.py",
    "callcenter/settings/server.py",
    "callcenter/settings/settings.py",
    "callcenter/settings/telephony.py",
    "callcenter/asterisk/sandbox.py",
)
RENDERER_THIRD_PARTY = {"yaml", "pydantic", "callcenter"}


# ------------------------------------------------------------------------------------ YAML


class Reset:
    """Compose's ``!reset`` / ``!override`` tags (override files)."""

    def __init__(self, value: Any, override: bool) -> None:
        self.value, self.override = value, override


class _ComposeLoader(yaml.SafeLoader):
    pass


def _tagged(override: bool) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
        if isinstance(node, yaml.MappingNode):
            return Reset(loader.construct_mapping(node, deep=True), override)
        if isinstance(node, yaml.SequenceNode):
            return Reset(loader.construct_sequence(node, deep=True), override)
        return Reset(loader.construct_scalar(node), override)  # type: ignore[arg-type]

    return construct


_ComposeLoader.add_constructor("!reset", _tagged(False))
_ComposeLoader.add_constructor("!override", _tagged(True))


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_ComposeLoader)  # a SafeLoader


def read_env_file(path: Path) -> dict[str, str]:
    """A docker compose ``.env`` file: KEY=VALUE lines, # comments, optional quotes."""
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ValueError(f"{path}:{number}: not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, env: Mapping[str, str], used: set[str] | None = None) -> str:
    """Compose interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``,
    ``${VAR:+alt}`` (and the forms without ``:``). A variable without a default must be set."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        if used is not None:
            used.add(name)
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if empty else str(value)
        if op in (":+", "+"):
            return "" if empty else arg
        if value is None or (op == ":?" and value == ""):
            raise ValueError(f"${{{name}}} is not set in {ENV_EXAMPLE.name}" + (f" ({arg})" if arg else ""))
        return value

    return _VAR.sub(replace, text)


def interpolate_tree(node: Any, env: Mapping[str, str], used: set[str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, used)
    if isinstance(node, Reset):
        return Reset(interpolate_tree(node.value, env, used), node.override)
    if isinstance(node, list):
        return [interpolate_tree(item, env, used) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, used) for key, value in node.items()}
    return node


def merge(base: Any, extra: Any) -> Any:
    """Compose's merge of an override file (simplified): mappings merge, sequences append,
    ``!reset`` empties and ``!override`` replaces."""
    if isinstance(extra, Reset):
        return extra.value if extra.override else type(extra.value)()
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge(out[key], value) if key in out else _unwrap(value)
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return base + [item for item in extra if item not in base]
    return extra


def _unwrap(node: Any) -> Any:
    if isinstance(node, Reset):
        return node.value if node.override else type(node.value)()
    if isinstance(node, dict):
        return {k: _unwrap(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unwrap(v) for v in node]
    return node


@dataclass
class Project:
    files: tuple[Path, ...]
    base: Path
    data: dict[str, Any]
    used_vars: set[str] = field(default_factory=set)

    @property
    def services(self) -> dict[str, Any]:
        services = self.data.get("services")
        return services if isinstance(services, dict) else {}


def load_project(files: Sequence[Path], env: Mapping[str, str], base: Path = DOCKER) -> Project:
    used: set[str] = set()
    data: Any = {}
    for path in files:
        loaded = load_yaml(path)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path.name}: not a mapping")
        data = merge(data, interpolate_tree(loaded, env, used))
    return Project(tuple(files), base, data, used)


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    env: dict[str, str] = {}
    if isinstance(raw, list):
        for item in raw:
            key, sep, value = str(item).partition("=")
            if sep:
                env[key] = value
    else:
        for key, value in raw.items():
            if value is None:
                continue
            env[str(key)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


def bind_mounts(service: Mapping[str, Any], base: Path) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts (named volumes left out)."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts[str(volume["target"])] = (base / str(volume["source"])).resolve()
        else:
            parts = str(volume).split(":")
            if len(parts) >= 2 and parts[0].startswith((".", "/", "~")):
                mounts[parts[1]] = (base / parts[0]).resolve()
    return mounts


@dataclass(frozen=True)
class Port:
    host_ip: str
    host: tuple[int, int]
    container: tuple[int, int]
    protocol: str


def _port_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first)


def published_ports(service: Mapping[str, Any]) -> list[Port]:
    ports = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.append(Port(
                str(entry.get("host_ip", "")),
                _port_range(str(entry.get("published", entry["target"]))),
                _port_range(str(entry["target"])),
                str(entry.get("protocol", "tcp")),
            ))
            continue
        spec, _, protocol = str(entry).partition("/")
        parts = spec.split(":")
        if len(parts) == 1:
            parts = ["", parts[0], parts[0]]
        elif len(parts) == 2:
            parts = ["", *parts]
        ports.append(Port(parts[0], _port_range(parts[1]), _port_range(parts[2]), protocol or "tcp"))
    return ports


def container_settings(project: Project, name: str) -> tuple[dict[str, str], Settings]:
    """The environment a service's process sees (CALLCENTER_CONFIG mapped to the host file) and the
    settings it loads from it. Raises ConfigError / ValueError."""
    service = project.services[name]
    env = {k: v for k, v in service_environment(service).items() if k.startswith("CALLCENTER_")}
    if CONFIG_VAR in env:
        mounts = bind_mounts(service, project.base)
        target = env[CONFIG_VAR]
        if target not in mounts:
            raise ValueError(f"{CONFIG_VAR}={target} is not a bind mount of the service")
        if not mounts[target].is_file():
            raise ValueError(f"{CONFIG_VAR}: {mounts[target]} does not exist")
        env[CONFIG_VAR] = str(mounts[target])
    return env, load_settings(environ=env)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _permitted(settings: Settings, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Whether asterisk.ami_permit lets every address of ``network`` log in to AMI."""
    for item in settings.asterisk.ami_permit:
        permit = ipaddress.ip_network(item)
        if permit.version == network.version and network.subnet_of(permit):  # type: ignore[arg-type]
            return True
    return False


def _check_loopback(
    label: str, ast_settings: Settings, srv_settings: Settings, host_mode: bool
) -> list[str]:
    """One network namespace (the asterisk service's, or the host's): AMI and FastAGI over
    loopback. On the host's network AMI must listen on loopback only."""
    problems = []
    s = srv_settings.asterisk
    if not _is_loopback(s.host):
        problems.append(f"{label}: server: asterisk.host {s.host} is not loopback (one network "
                        "namespace with Asterisk)")
    else:
        address = "127.0.0.1" if s.host == "localhost" else s.host
        if not _permitted(ast_settings, ipaddress.ip_network(address)):
            problems.append(f"{label}: asterisk: asterisk.ami_permit does not permit the server "
                            f"({address})")
    bind = ast_settings.asterisk.ami_bind_host or ast_settings.asterisk.host
    if not (_is_loopback(bind) or (_is_unspecified(bind) and not host_mode)):
        problems.append(f"{label}: asterisk: AMI binds {bind}; the server connects over loopback"
                        + (" (on the host's network, bind AMI to 127.0.0.1)" if host_mode else ""))
    if not _is_loopback(ast_settings.agi.host):
        problems.append(f"{label}: asterisk: agi.host {ast_settings.agi.host} is not loopback")
    if srv_settings.agi.host not in (ast_settings.agi.host, "0.0.0.0"):
        problems.append(f"{label}: server listens for FastAGI on {srv_settings.agi.host}, the "
                        f"dialplan connects to {ast_settings.agi.host}")
    return problems


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def service_networks(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Network name -> its attachment options (ipv4_address, aliases; empty when none)."""
    raw = service.get("networks") or {}
    if isinstance(raw, list):
        return {str(name): {} for name in raw}
    return {str(name): dict(options or {}) for name, options in raw.items()}


def _network_subnets(project: Project, name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    network = (project.data.get("networks") or {}).get(name) or {}
    configs = ((network.get("ipam") or {}).get("config")) or []
    return [ipaddress.ip_network(str(c["subnet"])) for c in configs
            if isinstance(c, dict) and c.get("subnet")]


def _check_pbx_network(
    label: str, project: Project, ast_settings: Settings, srv_settings: Settings
) -> list[str]:
    """Separate network namespaces: AMI and FastAGI over the one network the two services share,
    which is internal and has a fixed subnet (what asterisk.ami_permit allows)."""
    asterisk, server = project.services["asterisk"], project.services["server"]
    if asterisk.get("network_mode") or server.get("network_mode"):
        return [f"{label}: asterisk and server must both use the host's network, or the server "
                "Asterisk's namespace (network_mode: service:asterisk), or neither set network_mode"]
    ast_nets, srv_nets = service_networks(asterisk), service_networks(server)
    shared = sorted(set(ast_nets) & set(srv_nets))
    if len(shared) != 1:
        return [f"{label}: asterisk and server must share exactly one network (for AMI and "
                f"FastAGI; their names then resolve to addresses on it), not {shared or 'none'}"]
    net = shared[0]
    problems = []
    declared = (project.data.get("networks") or {}).get(net) or {}
    if not declared.get("internal"):
        problems.append(f"{label}: network {net} (AMI and FastAGI, clear text) must be internal")
    try:
        subnets = _network_subnets(project, net)
    except (ValueError, KeyError) as err:
        return [*problems, f"{label}: network {net}: bad ipam subnet: {err}"]
    if not subnets:
        return [*problems, f"{label}: network {net} needs a fixed ipam subnet (asterisk.ami_permit "
                "must name it)"]

    def static_address(options: Mapping[str, Any], who: str) -> str | None:
        address = options.get("ipv4_address") or options.get("ipv6_address")
        if address is None:
            return None
        ip = ipaddress.ip_address(str(address))
        if not any(ip in subnet for subnet in subnets):
            problems.append(f"{label}: {who}: {ip} is not in network {net}'s subnet")
        return str(ip)

    ast_address = static_address(ast_nets[net], "asterisk")
    srv_address = static_address(srv_nets[net], "server")
    # AMI: the server connects to Asterisk's name or address on the network, from its own
    # address there (or any of the subnet), which ami_permit must allow.
    s = srv_settings.asterisk
    ast_names = {"asterisk", *(ast_nets[net].get("aliases") or []), *([ast_address] if ast_address else [])}
    if s.host not in ast_names:
        problems.append(f"{label}: server: asterisk.host {s.host} is not Asterisk on network {net} "
                        f"(one of {', '.join(sorted(ast_names))})")
    sources = [ipaddress.ip_network(srv_address)] if srv_address else subnets
    for source in sources:
        if not _permitted(ast_settings, source):
            problems.append(f"{label}: asterisk: asterisk.ami_permit "
                            f"{list(ast_settings.asterisk.ami_permit)} does not permit the server "
                            f"({source} on network {net})")
    bind = ast_settings.asterisk.ami_bind_host or ast_settings.asterisk.host
    if not _is_unspecified(bind) and bind != ast_address:
        problems.append(f"{label}: asterisk: AMI binds {bind}, not Asterisk's address on network "
                        f"{net} ({ast_address or 'none fixed'})")
    # FastAGI: the dialplan connects to the server's name or address there; the server listens
    # on that address or all of its own.
    srv_names = {"server", *(srv_nets[net].get("aliases") or []), *([srv_address] if srv_address else [])}
    if ast_settings.agi.host not in srv_names:
        problems.append(f"{label}: asterisk: agi.host {ast_settings.agi.host} is not the server on "
                        f"network {net} (one of {', '.join(sorted(srv_names))})")
    if not _is_unspecified(srv_settings.agi.host) and srv_settings.agi.host != srv_address:
        problems.append(f"{label}: server listens for FastAGI on {srv_settings.agi.host}, not on "
                        f"its address on network {net} ({srv_address or 'none fixed'})")
    return problems


def load_render_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("callcenter_docker_render_config", RENDER_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def check_compose(
    files: Sequence[Path] = (COMPOSE,), env_file: Path = ENV_EXAMPLE, base: Path = DOCKER
) -> list[str]:
    """Problems of the compose project made of ``files`` (empty when none). Relative paths in the
    files (build contexts, bind mounts) are taken from ``base``, the project directory."""
    label = " + ".join(path.name for path in files)
    try:
        env = read_env_file(env_file)
        project = load_project(files, env, base)
    except (OSError, ValueError, yaml.YAMLError) as err:
        return [f"{label}: {err}"]
    problems: list[str] = []
    services = project.services
    for name in SERVICES:
        if name not in services:
            problems.append(f"{label}: no service {name!r}")
    if problems:
        return problems
    for name, service in services.items():
        build = service.get("build")
        if isinstance(build, dict):
            context = (base / str(build.get("context", "."))).resolve()
            dockerfile = context / str(build.get("dockerfile", "Dockerfile"))
            if not dockerfile.is_file():
                problems.append(f"{label}: {name}: build dockerfile {dockerfile} does not exist")
            elif context != REPO:
                problems.append(f"{label}: {name}: build context must be the repository root")
        for target in bind_mounts(service, base).values():
            if not target.exists():
                problems.append(f"{label}: {name}: bind-mount source {target} does not exist")

    loaded: dict[str, tuple[dict[str, str], Settings]] = {}
    for name in ("asterisk", "server"):
        try:
            loaded[name] = container_settings(project, name)
        except (ConfigError, ValueError) as err:
            problems.append(f"{label}: {name}: CALLCENTER_* environment does not load: {err}")
    if len(loaded) < 2:
        return problems
    ast_env, ast_settings = loaded["asterisk"]
    _, srv_settings = loaded["server"]
    a, s = ast_settings.asterisk, srv_settings.asterisk
    for key in ("ami_port", "ami_username"):
        if getattr(a, key) != getattr(s, key):
            problems.append(f"{label}: asterisk.{key} differs between asterisk and server")
    if a.ami_secret.get_secret_value() != s.ami_secret.get_secret_value():
        problems.append(f"{label}: asterisk.ami_secret differs between asterisk and server")
    if ast_settings.agi.port != srv_settings.agi.port:
        problems.append(f"{label}: agi.port differs between asterisk and server")
    if ast_settings.agents != srv_settings.agents:
        problems.append(f"{label}: the asterisk and server containers see different agents")

    asterisk, server = services["asterisk"], services["server"]
    shared = server.get("network_mode") == "service:asterisk"
    host_mode = asterisk.get("network_mode") == "host" and server.get("network_mode") == "host"
    if shared or host_mode:
        problems += _check_loopback(label, ast_settings, srv_settings, host_mode)
    else:
        problems += _check_pbx_network(label, project, ast_settings, srv_settings)
    if a.host not in ("0.0.0.0", "::"):
        problems.append(f"{label}: asterisk: asterisk.host should be 0.0.0.0 in a container")

    ast_ports, srv_ports = published_ports(asterisk), published_ports(server)
    if asterisk.get("network_mode") != "host":
        sip = [p for p in ast_ports if p.protocol == "udp" and p.container == (a.sip_port, a.sip_port)]
        if not sip or sip[0].host != sip[0].container:
            problems.append(f"{label}: asterisk: SIP udp {a.sip_port} is not published as itself")
        rtp = (a.rtp_port_start, a.rtp_port_end)
        if not any(p.protocol == "udp" and p.container == rtp and p.host == rtp for p in ast_ports):
            problems.append(f"{label}: asterisk: RTP udp {rtp[0]}-{rtp[1]} is not published as "
                            "itself")
    if server.get("network_mode") != "host":
        # Published by the service that owns the server's network namespace.
        owner, http_ports = ("asterisk", ast_ports) if shared else ("server", srv_ports)
        if not any(p.container[0] <= srv_settings.http.port <= p.container[1]
                   and p.protocol == "tcp" for p in http_ports):
            problems.append(f"{label}: the server's HTTP port {srv_settings.http.port} is not "
                            f"published (on the {owner} service, which owns its namespace)")
    for p in ast_ports + srv_ports:
        for port, what in ((a.ami_port, "AMI"), (srv_settings.agi.port, "FastAGI")):
            if p.protocol == "tcp" and p.container[0] <= port <= p.container[1]:
                problems.append(f"{label}: {what} port {port} is published; it must never be")
    for name, service in services.items():
        mode = str(service.get("network_mode", ""))
        if (mode == "host" or mode.startswith("service:")) and (
            service.get("ports") or service.get("networks")
        ):
            problems.append(f"{label}: {name}: ports/networks conflict with network_mode {mode}")

    # The asterisk container's settings render the templates (as its entrypoint will).
    render = load_render_script()
    with tempfile.TemporaryDirectory(prefix="callcenter-docker-lint-") as tmp:
        environ = {**ast_env, render.ALLOW_TEST_SECRETS: "1"}
        try:
            settings = render.container_settings(environ, Path(tmp))
            sandbox = render.AsteriskSandbox(settings, conf_dir=REPO / "asterisk_conf")
            render.write_config(sandbox)
        except Exception as err:  # the message is the finding
            problems.append(f"{label}: asterisk: the templates do not render: {err}")
    return problems


def _url_port(url: str) -> int | None:
    match = re.search(r"@[^/:@]+:(\d+)/", url)
    return int(match.group(1)) if match else None


def check_cluster(path: Path = CLUSTER, base: Path = DOCKER) -> list[str]:
    """docker/compose.cluster.yml: every service on the host's network with an image that
    scripts/docker_build.sh builds; Asterisk and both nodes load their settings and agree (AMI
    over loopback, the dialplan's FastAGI is a node's); every port is distinct and in the
    documented 17000 range; the nodes reach PostgreSQL, Redis and Asterisk where they listen."""
    label = path.name
    secrets = {name: "lint-secret-0123456789abcdef" for name in re.findall(
        r"\$\{([A-Z_]+):\?", path.read_text(encoding="utf-8"))}
    try:
        project = load_project([path], secrets, base)
    except (OSError, ValueError, yaml.YAMLError) as err:
        return [f"{label}: {err}"]
    problems: list[str] = []
    services = project.services
    missing = [name for name in CLUSTER_SERVICES if name not in services]
    if missing:
        return [f"{label}: no service {name!r}" for name in missing]
    built = set(re.findall(r"^build (callcenter-[a-z]+) ", BUILD_SCRIPT.read_text(encoding="utf-8"),
                           re.MULTILINE))
    for name, service in services.items():
        if service.get("network_mode") != "host":
            problems.append(f"{label}: {name}: not on the host's network (network_mode: host)")
        if service.get("build") or service.get("ports") or service.get("networks"):
            problems.append(f"{label}: {name}: build/ports/networks have no place here")
        image = str(service.get("image", "")).split(":")[0]
        if image not in built:
            problems.append(f"{label}: {name}: image {image or '(none)'} is not built by "
                            f"{BUILD_SCRIPT.name}")
        for target in bind_mounts(service, base).values():
            if not target.exists() and "kamailio" not in target.parts:
                problems.append(f"{label}: {name}: bind-mount source {target} does not exist")

    loaded: dict[str, Settings] = {}
    for name in ("asterisk", *CLUSTER_NODES):
        try:
            loaded[name] = container_settings(project, name)[1]
        except (ConfigError, ValueError) as err:
            problems.append(f"{label}: {name}: CALLCENTER_* environment does not load: {err}")
    if len(loaded) < 3:
        return problems
    ast = loaded["asterisk"]
    ports: dict[str, int] = {
        "asterisk SIP": ast.asterisk.sip_port,
        "asterisk AMI": ast.asterisk.ami_port,
        "asterisk RTP start": ast.asterisk.rtp_port_start,
        "asterisk RTP end": ast.asterisk.rtp_port_end,
    }
    for name in CLUSTER_NODES:
        node = loaded[name]
        problems += _check_loopback(f"{label}: {name}", ast, node, True)
        a, s = ast.asterisk, node.asterisk
        for key in ("ami_port", "ami_username"):
            if getattr(a, key) != getattr(s, key):
                problems.append(f"{label}: asterisk.{key} differs between asterisk and {name}")
        if a.ami_secret.get_secret_value() != s.ami_secret.get_secret_value():
            problems.append(f"{label}: asterisk.ami_secret differs between asterisk and {name}")
        if ast.agents != node.agents:
            problems.append(f"{label}: asterisk and {name} see different agents")
        ports[f"{name} HTTP"] = node.http.port
        ports[f"{name} FastAGI"] = node.agi.port
        env = service_environment(services[name])
        pg = service_environment(services["postgres"]).get("PGPORT")
        if _url_port(node.database.url) != (int(pg) if pg else None):
            problems.append(f"{label}: {name}: database.url does not name PostgreSQL's PGPORT {pg}")
        redis = service_environment(services["redis"]).get("REDIS_PORT")
        if _url_port(env.get("CALLCENTER_REALTIME__REDIS_URL", "")) != (int(redis) if redis else None):
            problems.append(f"{label}: {name}: realtime.redis_url does not name REDIS_PORT {redis}")
    if ast.agi.port not in (loaded[n].agi.port for n in CLUSTER_NODES):
        problems.append(f"{label}: the dialplan's FastAGI port {ast.agi.port} is no node's")
    for what, service, key in (("PostgreSQL", "postgres", "PGPORT"), ("Redis", "redis", "REDIS_PORT")):
        value = service_environment(services[service]).get(key, "")
        if value.isdigit():
            ports[what] = int(value)
        else:
            problems.append(f"{label}: {service}: {key} is not set")
    kamailio = service_environment(services["kamailio"])
    listen = re.fullmatch(r"udp:127\.0\.0\.1:(\d+)", kamailio.get("KAMAILIO_LISTEN", ""))
    if listen:
        ports["Kamailio SIP"] = int(listen.group(1))
    else:
        problems.append(f"{label}: kamailio: KAMAILIO_LISTEN must be udp:127.0.0.1:PORT")
    if f"sip:127.0.0.1:{ast.asterisk.sip_port}" not in kamailio.get("ASTERISK_SERVERS", "").split():
        problems.append(f"{label}: kamailio: ASTERISK_SERVERS does not name Asterisk's SIP port "
                        f"{ast.asterisk.sip_port}")
    seen: dict[int, str] = {}
    rtp = range(ast.asterisk.rtp_port_start, ast.asterisk.rtp_port_end + 1)
    for what, number in ports.items():
        if number not in CLUSTER_PORTS:
            problems.append(f"{label}: {what} port {number} is outside {CLUSTER_PORTS.start}-"
                            f"{CLUSTER_PORTS.stop - 1} (docs/deployment.md)")
        if number in seen:
            problems.append(f"{label}: {what} and {seen[number]} both use port {number}")
        seen.setdefault(number, what)
        if number in rtp and not what.startswith("asterisk RTP"):
            problems.append(f"{label}: {what} port {number} is inside Asterisk's RTP range")
    return problems


def check_env_example(env_file: Path = ENV_EXAMPLE) -> list[str]:
    """Every variable of .env.example is used by compose.yaml or its override (none is stale);
    that every used one is defined is checked by :func:`check_compose` (interpolation)."""
    try:
        env = read_env_file(env_file)
        used: set[str] = set()
        for path in (COMPOSE, HOST_NETWORK):
            used |= load_project([path], env).used_vars
    except (OSError, ValueError, yaml.YAMLError) as err:
        return [f"{env_file.name}: {err}"]
    return [f"{env_file.name}: {name} is not used by compose.yaml or its override"
            for name in sorted(set(env) - used)]


# ------------------------------------------------------------------------------------ Dockerfiles


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    flags: tuple[str, ...]
    args: tuple[str, ...]
    raw: str


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped (no heredocs)."""
    instructions: list[Instruction] = []
    pending = ""
    start = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = (pending + stripped).strip()
        pending = ""
        if not text:
            continue
        keyword, _, rest = text.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        # Flags (--from=, --chmod=, --mount=, --interval=...) come before everything else.
        flags: list[str] = []
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        if rest.startswith("["):
            words = json.loads(rest)
        elif keyword in ("RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK", "ENV", "LABEL"):
            words = rest.split()  # shell text: kept as words, not parsed
        else:
            words = shlex.split(rest)
        instructions.append(Instruction(start, keyword, tuple(flags), tuple(words), rest))
    if pending:
        instructions.append(Instruction(start, "?", (), (), pending))
    return instructions


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def read_dockerignore(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules: list[tuple[bool, re.Pattern[str]]] = []
    if not path.exists():
        return rules
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:].strip() if negate else line
        pattern = pattern.strip("/")
        pattern = re.sub(r"/+", "/", pattern)
        rules.append((negate, _ignore_regex(pattern)))
    return rules


def ignored(relpath: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relpath.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negate, regex in rules:
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


def _files_under(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for item in sorted(path.rglob("*")):
        if item.is_file() and "__pycache__" not in item.parts and item.suffix != ".pyc":
            yield item


def check_dockerfile(path: Path, context: Path = REPO) -> list[str]:
    label = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
    try:
        instructions = parse_dockerfile(path)
    except (OSError, ValueError) as err:
        return [f"{label}: {err}"]
    problems = [f"{label}:{i.line}: unterminated line continuation" for i in instructions
                if i.keyword == "?"]
    ignore_file = path.with_name(path.name + ".dockerignore")
    if not ignore_file.exists():
        problems.append(f"{label}: no {ignore_file.name} (the context is the whole repository)")
    rules = read_dockerignore(ignore_file)
    stages: list[str] = []
    final: list[Instruction] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            args = list(ins.args)
            if len(args) >= 3 and args[-2].upper() == "AS":
                stages.append(args[-1])
            final = []
        final.append(ins)
        from_flags = [f.split("=", 1)[1] for f in ins.flags if f.startswith("--from=")]
        for flag in ins.flags:
            if flag.startswith("--mount="):
                options = dict(o.split("=", 1) for o in flag[8:].split(",") if "=" in o)
                if "from" in options:
                    from_flags.append(options["from"])
        for source in from_flags:
            if source not in stages and not re.search(r"[:/]", source):
                problems.append(f"{label}:{ins.line}: --from={source} names no earlier stage")
        if ins.keyword in ("COPY", "ADD") and not any(f.startswith("--from=") for f in ins.flags):
            if len(ins.args) < 2:
                problems.append(f"{label}:{ins.line}: {ins.keyword} needs a source and a target")
                continue
            for source in ins.args[:-1]:
                rel = source.strip("/") or "."
                target = context / rel
                if not target.exists():
                    problems.append(f"{label}:{ins.line}: COPY source {source} does not exist in "
                                    "the repository")
                    continue
                files = [str(f.relative_to(context)) for f in _files_under(target)]
                dropped = [f for f in files if ignored(f, rules)]
                if not files or dropped:
                    problems.append(
                        f"{label}:{ins.line}: COPY source {source}: "
                        f"{dropped[0] if dropped else 'everything'} is excluded by "
                        f"{ignore_file.name}"
                    )
    keywords = [i.keyword for i in final]
    users = [i.args[0] for i in final if i.keyword == "USER" and i.args]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{label}: the final stage must end with a non-root USER")
    for needed in ("HEALTHCHECK", "ENTRYPOINT", "CMD"):
        if needed not in keywords:
            problems.append(f"{label}: the final stage has no {needed}")
    if path.parent.name == "asterisk":
        from callcenter.asterisk.sandbox import ROOT_PACKAGES

        installs = " ".join(i.raw for i in final if i.keyword == "RUN" and "apt-get install" in i.raw)
        for package in ROOT_PACKAGES:
            if not re.search(rf"(?<![\w.+-]){re.escape(package)}(?![\w.+-])", installs):
                problems.append(f"{label}: the final stage does not install {package} (a package "
                                "of the sandbox root)")
    return problems


# ------------------------------------------------------------------------------------ the rest


def check_renderer_imports() -> list[str]:
    """callcenter.settings and callcenter.asterisk.sandbox need only what the Asterisk image has."""
    problems = []
    stdlib = set(sys.stdlib_module_names)
    for rel in RENDERER_MODULES:
        tree = ast.parse((REPO / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top == "__future__":
                    continue
                settings = name == "callcenter.settings" or name.startswith("callcenter.settings.")
                if top not in RENDERER_THIRD_PARTY or (top == "callcenter" and not settings):
                    problems.append(
                        f"{rel}: imports {name}; the Asterisk image has only the standard library, "
                        "PyYAML, pydantic and callcenter.settings (update docker/asterisk/Dockerfile)"
                    )
    return problems


def check_shell_scripts() -> list[str]:
    problems = []
    for script in SHELL_SCRIPTS:
        text = script.read_text(encoding="utf-8")
        if not text.startswith("#!/bin/sh\n"):
            problems.append(f"{script.relative_to(REPO)}: must start with #!/bin/sh")
        done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            problems.append(f"{script.relative_to(REPO)}: sh -n: {done.stderr.strip()}")
    return problems


def check_all() -> list[str]:
    return [
        *check_compose([COMPOSE]),
        *check_compose([COMPOSE, HOST_NETWORK]),
        *check_env_example(),
        *check_cluster(),
        *(p for dockerfile in DOCKERFILES for p in check_dockerfile(dockerfile)),
        *check_renderer_imports(),
        *check_shell_scripts(),
    ]


def main() -> int:
    problems = check_all()
    for problem in problems:
        print(problem)
    print(f"docker/lint.py: {len(problems)} problem(s)" if problems else "docker/lint.py: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
