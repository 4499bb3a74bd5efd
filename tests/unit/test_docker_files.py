"""docker/: the compose files, Dockerfiles and the Asterisk config renderer, checked without Docker.

docker/lint.py checks the files statically (settings keys, ports, COPY sources, ignore files);
these tests run it, prove that it catches the mistakes it is meant to catch, and run the Asterisk
image's renderer (docker/asterisk/render_config.py) the way the image's entrypoint and build do.
scripts/docker_check.sh builds the images and runs the cluster project for real (a long scenario,
not part of the suite).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


lint = _load("callcenter_docker_lint", DOCKER / "lint.py")
render = _load("callcenter_docker_render_config", DOCKER / "asterisk" / "render_config.py")


def asterisk_environment() -> dict[str, str]:
    """The asterisk service's CALLCENTER_* environment from compose.yaml and .env.example."""
    project = lint.load_project([lint.COMPOSE], lint.read_env_file(lint.ENV_EXAMPLE))
    env, _settings = lint.container_settings(project, "asterisk")
    return dict(env)


# ------------------------------------------------------------------------------ the files as they are


def test_compose_is_valid() -> None:
    assert lint.check_compose([lint.COMPOSE]) == []


def test_compose_with_host_networking_is_valid() -> None:
    assert lint.check_compose([lint.COMPOSE, lint.HOST_NETWORK]) == []


def test_env_example_has_no_stale_variable() -> None:
    assert lint.check_env_example() == []


@pytest.mark.parametrize("dockerfile", lint.DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_copy_sources_exist_and_are_not_ignored(dockerfile: Path) -> None:
    assert lint.check_dockerfile(dockerfile) == []


def test_asterisk_renderer_needs_only_what_the_image_has() -> None:
    assert lint.check_renderer_imports() == []


def test_entrypoints_are_posix_sh() -> None:
    assert lint.check_shell_scripts() == []


def test_every_service_environment_loads_as_settings() -> None:
    project = lint.load_project([lint.COMPOSE], lint.read_env_file(lint.ENV_EXAMPLE))
    _, asterisk = lint.container_settings(project, "asterisk")
    _, server = lint.container_settings(project, "server")
    assert (asterisk.asterisk.host, asterisk.agi.host, asterisk.asterisk.rtp_port_end) == (
        "0.0.0.0",
        "server",
        10199,
    )
    # AMI on Asterisk's address of the internal pbx network, for that network only; no NAT.
    assert (asterisk.asterisk.ami_bind_host, asterisk.asterisk.ami_permit) == (
        "172.31.253.2",
        ("172.31.253.0/28",),
    )
    assert (asterisk.asterisk.external_address, asterisk.asterisk.local_nets) == (None, ())
    assert (server.asterisk.host, server.http.host, server.agi.host) == (
        "asterisk",
        "0.0.0.0",
        "172.31.253.3",
    )
    assert server.database.url.startswith("postgresql+asyncpg://callcenter:")
    assert server.database.url.endswith("@postgres:5432/callcenter")
    assert [t.role for t in server.security.api_tokens] == ["admin"]
    agents = ["1001", "1002", "1003", "1004"]
    assert [a.id for a in asterisk.agents] == [a.id for a in server.agents] == agents


def test_host_networking_keeps_ami_and_fastagi_on_loopback() -> None:
    project = lint.load_project([lint.COMPOSE, lint.HOST_NETWORK], lint.read_env_file(lint.ENV_EXAMPLE))
    _, asterisk = lint.container_settings(project, "asterisk")
    _, server = lint.container_settings(project, "server")
    ast = asterisk.asterisk
    assert (ast.host, ast.ami_bind_host, ast.ami_permit) == ("0.0.0.0", "127.0.0.1", ("127.0.0.1/32",))
    assert (asterisk.agi.host, server.agi.host, server.asterisk.host) == ("127.0.0.1",) * 3
    assert project.services["server"].get("ports") == [] and not project.services["server"]["networks"]


def test_host_networking_with_ami_on_every_interface_is_found(tmp_path: Path) -> None:
    text = lint.HOST_NETWORK.read_text(encoding="utf-8")
    old = "CALLCENTER_ASTERISK__AMI_BIND_HOST: 127.0.0.1"
    assert old in text
    path = tmp_path / "compose.host-network.yaml"
    path.write_text(text.replace(old, "CALLCENTER_ASTERISK__AMI_BIND_HOST: 0.0.0.0"), encoding="utf-8")
    problems = lint.check_compose([lint.COMPOSE, path], base=DOCKER)
    assert any("AMI binds 0.0.0.0" in p and "127.0.0.1" in p for p in problems), problems


# ------------------------------------------------------------------------------ the lint catches mistakes


def _mutated_compose(tmp_path: Path, old: str, new: str) -> Path:
    text = lint.COMPOSE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "compose.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("CALLCENTER_ASTERISK__SIP_PORT:", "CALLCENTER_ASTERISK__SIP_PROT:", "asterisk.sip_prot"),
        ('CALLCENTER_HTTP__PORT: "8080"', 'CALLCENTER_HTTP__PORT: "eighty"', "http.port"),
        # AMI and FastAGI across the pbx network.
        (
            "CALLCENTER_ASTERISK__HOST: asterisk",
            "CALLCENTER_ASTERISK__HOST: postgres",
            "asterisk.host postgres is not Asterisk on network pbx",
        ),
        (
            "CALLCENTER_AGI__HOST: server",
            "CALLCENTER_AGI__HOST: 127.0.0.1",
            "agi.host 127.0.0.1 is not the server",
        ),
        (
            "CALLCENTER_ASTERISK__AMI_PERMIT: ${PBX_SUBNET:-172.31.253.0/28}",
            "CALLCENTER_ASTERISK__AMI_PERMIT: 127.0.0.1",
            "does not permit the server",
        ),
        (
            "CALLCENTER_ASTERISK__AMI_BIND_HOST: ${PBX_ASTERISK_ADDRESS:-172.31.253.2}",
            "CALLCENTER_ASTERISK__AMI_BIND_HOST: 172.31.253.9",
            "AMI binds 172.31.253.9",
        ),
        (
            "CALLCENTER_AGI__HOST: ${PBX_SERVER_ADDRESS:-172.31.253.3}",
            "CALLCENTER_AGI__HOST: 127.0.0.1",
            "server listens for FastAGI on 127.0.0.1",
        ),
        (
            "CALLCENTER_ASTERISK__AMI_PERMIT: ${PBX_SUBNET:-172.31.253.0/28}",
            "CALLCENTER_ASTERISK__AMI_PERMIT: 172.31.253.0/27",
            "",
        ),  # wider is allowed
        (
            "      pbx:\n        ipv4_address: ${PBX_SERVER_ADDRESS:-172.31.253.3}\n",
            "",
            "must share exactly one network",
        ),
        ("      web: {}\n", "      web: {}\n      edge: {}\n", "must share exactly one network"),
        ("  pbx:\n    internal: true\n", "  pbx:\n    internal: false\n", "must be internal"),
        (
            "        - subnet: ${PBX_SUBNET:-172.31.253.0/28}",
            "        - subnet: 172.31.254.0/28",
            "is not in network pbx's subnet",
        ),
        (
            "CALLCENTER_ASTERISK__EXTERNAL_ADDRESS: ${EXTERNAL_ADDRESS:-}",
            "CALLCENTER_ASTERISK__EXTERNAL_ADDRESS: not an address",
            "asterisk.external_address",
        ),
        (
            "CALLCENTER_ASTERISK__LOCAL_NETS: ${LOCAL_NETS:-}",
            "CALLCENTER_ASTERISK__LOCAL_NETS: 10.0.0.1/8",
            "asterisk.local_nets.0",
        ),
        (
            "    depends_on:\n      asterisk:",
            "    network_mode: service:asterisk\n    depends_on:\n      asterisk:",
            "ports/networks conflict with network_mode service:asterisk",
        ),
        ("${AMI_SECRET:?", "${AMI_SECRETS:?", "AMI_SECRETS"),
        (
            '- "${RTP_PORT_START:-10000}-${RTP_PORT_END:-10199}:',
            '- "${RTP_PORT_START:-10000}-10100:',
            "RTP udp",
        ),
        (
            '- "${HTTP_PUBLISH_ADDRESS:-127.0.0.1}:${HTTP_PORT:-8080}:8080/tcp"',
            '- "${HTTP_PUBLISH_ADDRESS:-127.0.0.1}:5038:5038/tcp"',
            "AMI port 5038 is published",
        ),
        (
            '- "${HTTP_PUBLISH_ADDRESS:-127.0.0.1}:${HTTP_PORT:-8080}:8080/tcp"',
            '- "${HTTP_PUBLISH_ADDRESS:-127.0.0.1}:4573:4573/tcp"',
            "FastAGI port 4573 is published",
        ),
        (
            '- "${HTTP_PUBLISH_ADDRESS:-127.0.0.1}:${HTTP_PORT:-8080}:8080/tcp"',
            '- "${HTTP_PUBLISH_ADDRESS:-127.0.0.1}:8081:8081/tcp"',
            "HTTP port 8080 is not published (on the server service",
        ),
        ("source: ./callcenter.yaml", "source: ./missing.yaml", "missing.yaml"),
        (
            "dockerfile: docker/server/Dockerfile",
            "dockerfile: docker/server/Dockerfile.nope",
            "does not exist",
        ),
    ],
)
def test_compose_mistakes_are_found(tmp_path: Path, old: str, new: str, expected: str) -> None:
    problems = lint.check_compose([_mutated_compose(tmp_path, old, new)], base=DOCKER)
    if not expected:  # a change that is fine
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_one_namespace_needs_loopback_ami(tmp_path: Path) -> None:
    """The server in Asterisk's namespace (the older layout): AMI must then permit loopback."""
    text = lint.COMPOSE.read_text(encoding="utf-8")
    start = text.index("    ports:\n      # The HTTP API.")
    end = text.index("      backend: {}\n", start) + len("      backend: {}\n")
    shared = "    volumes:\n      - *callcenter-config\n    network_mode: service:asterisk\n"
    text = text[:start] + shared + text[end:]
    text = text.replace("CALLCENTER_ASTERISK__HOST: asterisk", "CALLCENTER_ASTERISK__HOST: 127.0.0.1")
    path = tmp_path / "compose.yaml"
    path.write_text(text, encoding="utf-8")
    problems = lint.check_compose([path], base=DOCKER)
    assert any("ami_permit does not permit the server (127.0.0.1)" in p for p in problems), problems
    assert any("agi.host server is not loopback" in p for p in problems), problems
    assert any("HTTP port 8080 is not published (on the asterisk service" in p for p in problems)


def test_ami_secret_mismatch_is_found(tmp_path: Path) -> None:
    path = _mutated_compose(
        tmp_path,
        "      CALLCENTER_ASTERISK__HOST: asterisk\n",
        "      CALLCENTER_ASTERISK__HOST: asterisk\n      CALLCENTER_ASTERISK__AMI_SECRET: other\n",
    )
    problems = lint.check_compose([path], base=DOCKER)
    assert any("ami_secret differs" in p for p in problems), problems


def test_templates_that_do_not_render_are_found(tmp_path: Path) -> None:
    path = _mutated_compose(
        tmp_path,
        "CALLCENTER_ASTERISK__INBOUND_NUMBER: ${INBOUND_NUMBER:-5000}",
        "CALLCENTER_ASTERISK__INBOUND_NUMBER: 'call us'",
    )
    problems = lint.check_compose([path], base=DOCKER)
    assert any("do not render" in p and "inbound_number" in p for p in problems), problems


def _mutated_dockerfile(tmp_path: Path, dockerfile: Path, old: str, new: str) -> Path:
    target = tmp_path / dockerfile.parent.name / "Dockerfile"
    target.parent.mkdir()
    text = dockerfile.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    ignore = dockerfile.with_name("Dockerfile.dockerignore")
    shutil.copy(ignore, target.with_name(ignore.name))
    return target


@pytest.mark.parametrize(
    ("dockerfile", "old", "new", "expected"),
    [
        (lint.DOCKERFILES[1], "COPY pyproject.toml", "COPY pyproject.tom", "does not exist"),
        (
            lint.DOCKERFILES[1],
            "COPY callcenter/ /src/callcenter/",
            "COPY callcenter/ scripts/ /src/callcenter/",
            "excluded",
        ),
        (lint.DOCKERFILES[1], "USER callcenter", "USER root", "non-root USER"),
        (
            lint.DOCKERFILES[0],
            "COPY --from=src /opt/callcenter/ /opt/callcenter/\nCOPY --chmod",
            "COPY --from=sources /opt/callcenter/ /opt/callcenter/\nCOPY --chmod",
            "no earlier stage",
        ),
        (
            lint.DOCKERFILES[0],
            "asterisk asterisk-core-sounds-en-wav asterisk-moh-opsound-wav",
            "asterisk asterisk-core-sounds-en-wav",
            "asterisk-moh-opsound-wav",
        ),
        (lint.DOCKERFILES[0], "HEALTHCHECK", "# HEALTHCHECK", "no HEALTHCHECK"),
    ],
    ids=[
        "missing-source",
        "ignored-source",
        "root-user",
        "unknown-stage",
        "sandbox-package",
        "no-healthcheck",
    ],
)
def test_dockerfile_mistakes_are_found(
    tmp_path: Path, dockerfile: Path, old: str, new: str, expected: str
) -> None:
    problems = lint.check_dockerfile(_mutated_dockerfile(tmp_path, dockerfile, old, new))
    assert any(expected in p for p in problems), problems


def test_dockerignore_follows_dockers_rules() -> None:
    rules = lint.read_dockerignore(DOCKER / "asterisk" / "Dockerfile.dockerignore")
    assert not lint.ignored("callcenter/asterisk/sandbox.py", rules)
    assert not lint.ignored("asterisk_conf/prompts.yaml", rules)
    assert not lint.ignored("docker/asterisk/render_config.py", rules)
    assert lint.ignored("callcenter/__pycache__/sandbox.cpython-311.pyc", rules)
    assert lint.ignored("tests/unit/test_config.py", rules)
    assert lint.ignored(".venv/bin/python", rules)
    assert lint.ignored("docker/lint.py", rules)


# ------------------------------------------------------------------------------ the Asterisk renderer


def test_entrypoint_renders_the_compose_environment(tmp_path: Path) -> None:
    environ = {**asterisk_environment(), "CC_ALLOW_TEST_SECRETS": "1"}
    code = render.main(
        ["config", "--root", str(tmp_path), "--conf-dir", str(REPO / "asterisk_conf")], environ
    )
    assert code == 0
    base = tmp_path / "srv" / "callcenter"
    assert os.readlink(base / "current") == "pbx1"
    etc = base / "current" / "etc" / "asterisk"
    assert sorted(p.name for p in etc.glob("*.conf")) == sorted(
        p.name for p in (REPO / "asterisk_conf").glob("*.conf")
    )
    manager = (etc / "manager.conf").read_text()
    assert "bindaddr = 172.31.253.2" in manager and "secret = CHANGE-ME-ami-secret" in manager
    assert "port = 5038" in manager
    assert "\npermit = 172.31.253.0/255.255.255.240\n" in manager
    assert "permit = 127.0.0.1" not in manager
    pjsip = (etc / "pjsip.conf").read_text()
    assert "bind = 0.0.0.0:5060" in pjsip
    assert "external_media_address" not in pjsip and "local_net" not in pjsip.replace("local_nets", "")
    assert "rtpend = 10199" in (etc / "rtp.conf").read_text()
    assert "AGI(agi://server:4573/inbound,${CC_EARLY}," in (etc / "extensions.conf").read_text()
    assert "astetcdir => /srv/callcenter/pbx1/etc/asterisk" in (etc / "asterisk.conf").read_text()
    assert stat.S_IMODE((etc / "manager.conf").stat().st_mode) == 0o640  # holds the AMI secret
    for sub in ("lib", "log", "run", "spool/monitor", "keys", "cache"):
        assert (base / "pbx1" / sub).is_dir(), sub


def test_entrypoint_refuses_placeholders_and_test_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["config", "--root", str(tmp_path), "--conf-dir", str(REPO / "asterisk_conf")]
    assert render.main(args, asterisk_environment()) == 1
    assert "CALLCENTER_ASTERISK__AMI_SECRET" in capsys.readouterr().err
    assert render.main(args, {}) == 1  # the sandbox's built-in test secrets
    assert "asterisk.ami_secret" in capsys.readouterr().err
    assert not (tmp_path / "srv").exists()


def test_entrypoint_reports_a_bad_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    environ = {**asterisk_environment(), "CALLCENTER_ASTERISK__SIP_PROT": "5060"}
    assert render.main(["config", "--root", str(tmp_path)], environ) == 1
    assert "asterisk.sip_prot" in capsys.readouterr().err


def test_build_renders_the_prompts(tmp_path: Path) -> None:
    """The image's prompt stage (flite + sox, as scripts/setup.sh installs for the sandbox)."""
    code = render.main(
        ["prompts", "--root", str(tmp_path / "build"), "--conf-dir", str(REPO / "asterisk_conf")], {}
    )
    assert code == 0
    prompts = tmp_path / "build" / "usr/share/asterisk/sounds/en/callcenter"
    names = render.prompt_names(REPO / "asterisk_conf" / "prompts.yaml")
    assert names and all((prompts / f"{name}.wav").stat().st_size > 1000 for name in names)


# ------------------------------------------------------------------------------ compose.cluster.yml


def test_cluster_compose_is_valid() -> None:
    assert lint.check_cluster() == []


def test_cluster_nodes_share_asterisk_and_stores_on_distinct_ports() -> None:
    secrets = {
        name: "lint-secret-0123456789abcdef"
        for name in (
            "AMI_SECRET",
            "AGENT_PASSWORD",
            "TRUNK_PASSWORD",
            "POSTGRES_PASSWORD",
            "REDIS_PASSWORD",
            "ADMIN_API_TOKEN",
        )
    }
    project = lint.load_project([lint.CLUSTER], secrets)
    _, asterisk = lint.container_settings(project, "asterisk")
    nodes = [lint.container_settings(project, name)[1] for name in lint.CLUSTER_NODES]
    assert [(n.http.port, n.agi.port) for n in nodes] == [(17080, 17573), (17081, 17574)]
    assert asterisk.agi.port == 17573 and asterisk.asterisk.ami_bind_host == "127.0.0.1"
    assert all(n.database.url.endswith("@127.0.0.1:17432/callcenter") for n in nodes)
    assert {s.get("network_mode") for s in project.services.values()} == {"host"}


def _mutated_cluster(tmp_path: Path, old: str, new: str) -> Path:
    text = lint.CLUSTER.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "compose.cluster.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # node2 on node1's HTTP port.
        (
            'CALLCENTER_HTTP__PORT: "17081"',
            'CALLCENTER_HTTP__PORT: "17080"',
            "node2 HTTP and node1 HTTP both use port 17080",
        ),
        # The test suite's slot-0 HTTP port.
        ('CALLCENTER_HTTP__PORT: "17081"', 'CALLCENTER_HTTP__PORT: "28080"', "outside 17000-17999"),
        # Redis inside Asterisk's RTP range.
        ('REDIS_PORT: "17479"', 'REDIS_PORT: "17300"', "inside Asterisk's RTP range"),
        # The dialplan's FastAGI on a port no node listens on.
        (
            "CALLCENTER_AGI__PORT: ${AGI_PORT:-17573}",
            "CALLCENTER_AGI__PORT: ${AGI_PORT:-17575}",
            "FastAGI port 17575 is no node's",
        ),
        # An image nobody builds.
        ("image: callcenter-redis:", "image: redis:", "image redis is not built"),
        ('PGPORT: "17432"', 'PGPORT: "17433"', "database.url does not name PostgreSQL's PGPORT"),
    ],
)
def test_cluster_mistakes_are_found(tmp_path: Path, old: str, new: str, expected: str) -> None:
    problems = lint.check_cluster(_mutated_cluster(tmp_path, old, new), base=DOCKER)
    assert any(expected in p for p in problems), problems
