"""Asterisk's network configuration as rendered from the settings (no root, no Asterisk).

``AsteriskSandbox(settings).render()`` only reads the templates (and, if the sandbox root exists,
its stock asterisk.conf for the module directory); it writes nothing and needs no root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk.sandbox import AsteriskSandbox
from callcenter.settings import ConfigError, Settings, load_settings


def _settings(**asterisk: Any) -> Settings:
    # A root that does not exist: render() must not depend on the real sandbox.
    overrides = {"asterisk": {"sandbox_root": "/nonexistent/callcenter-root", **asterisk}}
    return load_settings(environ={}, overrides=overrides)


def _render(**asterisk: Any) -> dict[str, str]:
    return AsteriskSandbox(_settings(**asterisk)).render()


def _code(text: str) -> list[str]:
    """The non-comment, non-empty lines, whitespace around '=' normalised."""
    lines = []
    for line in text.splitlines():
        line = re.split(r"(?<!\\);", line, maxsplit=1)[0].strip()
        if line:
            lines.append(re.sub(r"\s*=\s*", " = ", line, count=1))
    return lines


def _section(text: str, name: str) -> list[str]:
    """The code lines of ``[name]`` (up to the next section header)."""
    lines = _code(text)
    start = lines.index(f"[{name}]") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    return lines[start:end]


def _nat_lines(transport: list[str]) -> list[str]:
    return [
        line
        for line in transport
        if line.split(" = ")[0] in ("external_media_address", "external_signaling_address", "local_net")
    ]


# ------------------------------------------------------------------------------ defaults


def test_render_needs_no_root_and_writes_nothing(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"asterisk": {"sandbox_root": str(tmp_path / "r")}})
    files = AsteriskSandbox(settings).render()
    assert {"manager.conf", "pjsip.conf", "extensions.conf"} <= files.keys()
    assert not (tmp_path / "r").exists()


def test_defaults_bind_ami_to_host_and_permit_loopback_only() -> None:
    user = _section(_render()["manager.conf"], "callcenter")
    general = _section(_render()["manager.conf"], "general")
    assert "bindaddr = 127.0.0.1" in general and "port = 5038" in general
    acl = [line for line in user if line.startswith(("deny", "permit"))]
    assert acl == ["deny = 0.0.0.0/0.0.0.0", "deny = ::/0", "permit = 127.0.0.1/255.255.255.255"]


def test_defaults_have_no_nat_settings() -> None:
    transport = _section(_render()["pjsip.conf"], "transport-udp")
    assert transport == ["type = transport", "protocol = udp", "bind = 127.0.0.1:5060"]


def test_ami_bind_host_falls_back_to_host() -> None:
    general = _section(_render(host="0.0.0.0")["manager.conf"], "general")
    assert "bindaddr = 0.0.0.0" in general


# ------------------------------------------------------------------------------ custom values


def test_ami_bind_host_and_permit_render() -> None:
    manager = _render(
        host="0.0.0.0",
        ami_bind_host="172.29.53.2",
        ami_permit=["172.29.53.0/28", "10.0.0.0/255.0.0.0", "192.0.2.7", "fd00:cc::/64"],
    )["manager.conf"]
    assert "bindaddr = 172.29.53.2" in _section(manager, "general")
    acl = [line for line in _section(manager, "callcenter") if line.startswith(("deny", "permit"))]
    assert acl == [
        "deny = 0.0.0.0/0.0.0.0",
        "deny = ::/0",
        "permit = 172.29.53.0/255.255.255.240",  # CIDR -> the netmask form of Asterisk's samples
        "permit = 10.0.0.0/255.0.0.0",
        "permit = 192.0.2.7/255.255.255.255",  # a single address
        "permit = fd00:cc::/64",  # IPv6 keeps the prefix length
    ]


def test_sip_binding_is_independent_of_the_ami_binding() -> None:
    files = _render(host="0.0.0.0", ami_bind_host="10.1.2.3")
    assert "bind = 0.0.0.0:5060" in _section(files["pjsip.conf"], "transport-udp")
    assert "bindaddr = 10.1.2.3" in _section(files["manager.conf"], "general")


def test_ipv6_ami_bind_host() -> None:
    assert "bindaddr = ::" in _section(_render(ami_bind_host="::")["manager.conf"], "general")


def test_external_address_and_local_nets_render_on_the_transport() -> None:
    transport = _section(
        _render(external_address="203.0.113.10", local_nets=["192.168.0.0/16", "10.0.0.0/255.0.0.0"])[
            "pjsip.conf"
        ],
        "transport-udp",
    )
    assert _nat_lines(transport) == [
        "external_media_address = 203.0.113.10",
        "external_signaling_address = 203.0.113.10",
        "local_net = 192.168.0.0/255.255.0.0",
        "local_net = 10.0.0.0/255.0.0.0",
    ]


def test_external_address_may_be_a_dns_name_and_each_setting_renders_alone() -> None:
    transport = _section(_render(external_address="pbx.example.com")["pjsip.conf"], "transport-udp")
    assert _nat_lines(transport) == [
        "external_media_address = pbx.example.com",
        "external_signaling_address = pbx.example.com",
    ]
    transport = _section(_render(local_nets=["172.16.0.0/12"])["pjsip.conf"], "transport-udp")
    assert _nat_lines(transport) == ["local_net = 172.16.0.0/255.240.0.0"]


def test_environment_forms() -> None:
    """Lists as comma-separated strings; empty means unset; "::" stays an address."""
    settings = load_settings(
        environ={
            "CALLCENTER_ASTERISK__AMI_PERMIT": "172.29.53.0/28, 127.0.0.1",
            "CALLCENTER_ASTERISK__LOCAL_NETS": "",
            "CALLCENTER_ASTERISK__EXTERNAL_ADDRESS": "",
            "CALLCENTER_ASTERISK__AMI_BIND_HOST": "::",
        }
    )
    ast = settings.asterisk
    assert ast.ami_permit == ("172.29.53.0/28", "127.0.0.1")
    assert (ast.local_nets, ast.external_address, ast.ami_bind_host) == ((), None, "::")
    settings = load_settings(environ={"CALLCENTER_ASTERISK__LOCAL_NETS": "[10.0.0.0/8, 192.168.1.0/24]"})
    assert settings.asterisk.local_nets == ("10.0.0.0/8", "192.168.1.0/24")


# ------------------------------------------------------------------------------ invalid values


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("ami_permit", ["10.0.0.0/8", "10.0.0.300/32"], "asterisk.ami_permit.1"),
        ("ami_permit", ["10.0.0.5/8"], "host bits set"),
        ("ami_permit", ["10.0.0.0/255.0.255.0"], "asterisk.ami_permit.0"),
        ("ami_permit", ["localhost"], "asterisk.ami_permit.0"),
        ("ami_permit", [], "at least one network"),
        ("local_nets", ["192.168.0.0/33"], "asterisk.local_nets.0"),
        ("local_nets", ["192.168.0.0/16; permit all"], "asterisk.local_nets.0"),
        ("ami_bind_host", "asterisk", "asterisk.ami_bind_host"),
        ("ami_bind_host", "10.0.0.0/8", "asterisk.ami_bind_host"),
        ("external_address", "pbx.example.com\nbind = 0.0.0.0", "asterisk.external_address"),
        ("external_address", "1.2.3", "asterisk.external_address"),
        ("external_address", "bad_name.example", "asterisk.external_address"),
    ],
)
def test_invalid_values_name_the_key(key: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, overrides={"asterisk": {key: value}})
    assert expected in str(info.value) and f"asterisk.{key}" in str(info.value)


def test_invalid_network_in_a_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("asterisk:\n  ami_permit:\n    - 127.0.0.1\n    - 10.0.0.0/40\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:4: asterisk\.ami_permit\.1: .*10\.0\.0\.0/40"):
        load_settings(path, environ={})
