from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.settings import ConfigError, load_settings


def test_defaults_load_without_a_file() -> None:
    s = load_settings(environ={})
    assert s.asterisk.ami_port == 5038
    assert [a.extension for a in s.agents][:2] == ["1001", "1002"]
    assert len(s.agents) == 10


def test_file_then_env_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("asterisk:\n  ami_port: 6000\n  sip_port: 6060\nhttp:\n  port: 9000\n")
    s = load_settings(
        path,
        environ={"CALLCENTER_ASTERISK__AMI_PORT": "7000", "CALLCENTER_ASTERISK__AMI_SECRET": "12345"},
        overrides={"http": {"port": 9100}},
    )
    assert (s.asterisk.ami_port, s.asterisk.sip_port, s.http.port) == (7000, 6060, 9100)
    assert s.asterisk.ami_secret.get_secret_value() == "12345"  # numbers-as-secrets stay strings


def test_error_names_file_line_key_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("http:\n  host: 127.0.0.1\n  port: eighty\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert f"{path}:3: http.port:" in message and "integer" in message


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("asterisk:\n  ami_prot: 1\n")
    with pytest.raises(ConfigError, match=r"c.yaml:2: asterisk.ami_prot: Extra inputs"):
        load_settings(path, environ={})


def test_broken_yaml_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("http:\n  port: [1,\n")
    with pytest.raises(ConfigError, match=r"c.yaml:\d+: invalid YAML"):
        load_settings(path, environ={})


def test_secrets_do_not_show_in_repr() -> None:
    s = load_settings(environ={"CALLCENTER_ASTERISK__AMI_SECRET": "topsecretvalue"})
    assert "topsecretvalue" not in repr(s) and "topsecretvalue" not in str(s)


def test_example_file_is_valid_and_shows_the_defaults() -> None:
    example = Path(__file__).parents[2] / "callcenter.example.yaml"
    assert load_settings(example, environ={}) == load_settings(environ={})


def test_messaging_public_url_is_an_origin() -> None:
    assert load_settings(
        environ={"CALLCENTER_MESSAGING__PUBLIC_URL": "https://cc.example.com/"}
    ).messaging.public_url == ("https://cc.example.com")
    with pytest.raises(ConfigError, match=r"messaging\.public_url"):
        load_settings(environ={"CALLCENTER_MESSAGING__PUBLIC_URL": "https://cc.example.com/hooks"})


def test_lists_come_from_one_environment_variable() -> None:
    s = load_settings(
        environ={
            "CALLCENTER_REALTIME__CORS_ORIGINS": "https://a.example.com, https://b.example.com",
            "CALLCENTER_ASTERISK__AMI_PERMIT": "10.0.0.0/8 192.168.0.0/16",
        }
    )
    assert s.realtime.cors_origins == ("https://a.example.com", "https://b.example.com")
    assert s.asterisk.ami_permit == ("10.0.0.0/8", "192.168.0.0/16")
