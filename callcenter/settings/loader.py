"""Configuration: one YAML file plus environment overrides, loaded once into a typed, frozen object.

Source order (later wins): built-in defaults < YAML file < environment < command-line overrides.
Environment variables are ``CALLCENTER_<SECTION>__<KEY>`` (double underscore between levels), e.g.
``CALLCENTER_ASTERISK__AMI_PORT=15038``. Only this module reads ``os.environ``; everything else is
handed a :class:`Settings`.

An invalid file stops start-up with :class:`ConfigError`, whose message names the file, the line when
it is known, the dotted key and the problem."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from callcenter.settings import textfile
from callcenter.settings.base import ENV_PREFIX, ConfigError
from callcenter.settings.settings import Settings


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``CALLCENTER_A__B=v`` -> ``{"a": {"b": "v"}}``. YAML-parsed so lists and numbers work."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment {name}: conflicts with another override")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        # Secrets, identifiers and addresses stay strings even when they look like numbers (or,
        # like "::", like YAML mappings).
        keep_raw = isinstance(value, (int, float, list, dict)) and path[-1] in _STRING_KEYS
        node[path[-1]] = raw if keep_raw else value
    return tree


_STRING_KEYS = {
    "ami_secret",
    "agent_password",
    "trunk_password",
    "inbound_number",
    "token",
    "id",
    "extension",
    "host",
    "ami_bind_host",
    "external_address",
    "auth_token",
    "verify_token",
    "app_secret",
    "access_token",
    "phone_number_id",
    "app_id",
    "from_number",
    "smtp_password",
    "web_identity_secret",
    "encryption_key",
    "encoding_aes_key",
    "encryption_keys",
    "encryption_key_id",
    "redis_url",
}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _bad_scalar_line(root: yaml.Node | None) -> int:
    """The line of the first scalar the safe constructor refuses (an integer of more than 4,300
    digits, a date like 2026-02-30): safe_load says what, not where."""
    constructor = yaml.constructor.SafeConstructor()

    def refused(node: yaml.ScalarNode) -> bool:
        try:
            constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError):
            return True
        return False

    return textfile.scalar_line(root, refused) or 1


def parse_yaml(text: str, source: str, what: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse a YAML mapping, keeping its node tree so later errors can name a line.

    Raises ConfigError as ``source:line: invalid YAML: ...`` or ``source:1: <what> must be a mapping``.
    """
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: invalid YAML: {getattr(err, 'problem', err)}") from err
    except (ValueError, OverflowError, RecursionError) as err:  # a value Python cannot hold; too deep
        raise ConfigError(f"{source}:{_bad_scalar_line(root)}: invalid value: {err}") from err
    bad = textfile.unencodable_line(root)
    if bad is not None:
        raise ConfigError(f"{source}:{bad}: invalid value: an escaped surrogate is not text")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: {what} must be a mapping")
    return data, root


def validation_problems(err: ValidationError, root: yaml.Node | None, source: str) -> str:
    """A pydantic error as lines of ``source:line: dotted.key: problem``."""
    problems = []
    for error in err.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = line_of(root, loc) if root is not None else None
        where = f"{source}:{line}" if line else source
        problems.append(f"{where}: {key}: {error['msg'].removeprefix('Value error, ')}")
    return "\n".join(problems)


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings from ``path`` (optional), the environment and explicit overrides."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = environ[ENV_PREFIX + "CONFIG"]
    data: dict[str, Any] = {}
    root_node: yaml.Node | None = None
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            text = textfile.read_text(path, "configuration")
        except textfile.TextFileError as err:
            raise ConfigError(str(err)) from err
        data, root_node = parse_yaml(text, source, "the configuration (sections)")
    data = _merge(data, _env_overrides(environ))
    if overrides:
        data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root_node, source)) from err
