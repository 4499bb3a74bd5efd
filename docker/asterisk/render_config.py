#!/usr/bin/env python3
"""Render the repository's Asterisk configuration for the container, with the sandbox's own code.

The container runs the same templates as the development sandbox: ``asterisk_conf/*.conf`` filled
from :class:`callcenter.settings.Settings` by
:meth:`callcenter.asterisk.sandbox.AsteriskSandbox.render_config` (public API; it writes files and needs
no root and no chroot). The container's file system plays the part of the sandbox root
(``asterisk.sandbox_root`` is forced to ``/``), so the layout is the sandbox's:
``/srv/callcenter/<instance>/{etc/asterisk,lib,log,run,spool,keys,cache}``, with modules, sounds
and music on hold where the Debian packages put them.

Commands::

    render_config.py config   [--root /] [--conf-dir DIR]   # at container start (entrypoint)
    render_config.py check    [--root /] [--conf-dir DIR]   # at image build: smoke test, writes nothing
    render_config.py prompts  --root DIR [--conf-dir DIR]   # at image build: prompts.yaml -> WAV files

``config`` reads the settings from the environment (``CALLCENTER_<SECTION>__<KEY>``, and the YAML
file named by ``CALLCENTER_CONFIG``), writes the rendered files (mode 0640) into the instance's
``etc/asterisk``, creates the instance directories named in the rendered ``asterisk.conf`` and points
``/srv/callcenter/current`` at the instance (the image's ``/etc/asterisk/asterisk.conf`` is a symlink
through it, so a plain ``asterisk -f`` / ``asterisk -rx ...`` finds the configuration). It refuses
the sandbox's built-in test secrets and docker/.env.example's ``CHANGE-ME`` placeholders unless
``CC_ALLOW_TEST_SECRETS=1`` (deliberately not a ``CALLCENTER_`` name: those are all settings).

``prompts`` uses :meth:`AsteriskSandbox.install_prompts` (flite + sox) with a scratch directory as
the root; the WAV files land in ``<root>/usr/share/asterisk/sounds/en/callcenter/``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from callcenter.asterisk.sandbox import AsteriskSandbox, SandboxError
from callcenter.settings import ENV_PREFIX, AsteriskSettings, ConfigError, Settings, load_settings

#: Where the Dockerfile puts asterisk_conf/ (beside the callcenter package, as in the repository).
IMAGE_CONF_DIR = Path("/opt/callcenter/asterisk_conf")
#: Symlink to the current instance directory (stable path for /etc/asterisk/asterisk.conf).
CURRENT_LINK = "current"
ALLOW_TEST_SECRETS = "CC_ALLOW_TEST_SECRETS"
#: The placeholder of docker/.env.example's secrets.
PLACEHOLDER = "CHANGE-ME"
_SECRET_KEYS = ("ami_secret", "agent_password", "trunk_password")
_DIRECTORY = re.compile(r"^\s*ast\w+dir\s*=>?\s*(\S+)", re.MULTILINE)


class RenderError(Exception):
    """Rendering for the container failed; the message says why."""


def container_settings(environ: Mapping[str, str], root: Path) -> Settings:
    """Settings from ``environ`` (and its CALLCENTER_CONFIG file), with ``root`` as sandbox root."""
    try:
        return load_settings(environ=environ, overrides={"asterisk": {"sandbox_root": str(root)}})
    except ConfigError as err:
        raise RenderError(f"configuration error:\n{err}") from err


def weak_secrets(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """Secrets still at the sandbox's public test values, and variables still set to the
    ``CHANGE-ME`` placeholders of docker/.env.example."""
    defaults = AsteriskSettings()
    weak = [
        f"asterisk.{key}"
        for key in _SECRET_KEYS
        if getattr(settings.asterisk, key).get_secret_value()
        == getattr(defaults, key).get_secret_value()
    ]
    weak += sorted(
        name for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and PLACEHOLDER in value
    )
    return weak


def write_config(sandbox: AsteriskSandbox) -> Path:
    """Render into the instance, create its directories and the ``current`` link.

    Returns the instance's ``asterisk.conf``.
    """
    try:
        sandbox.render_config()
    except (SandboxError, OSError) as err:
        raise RenderError(f"rendering the Asterisk configuration failed: {err}") from err
    etc = sandbox.instance_dir / "etc" / "asterisk"
    conf = etc / "asterisk.conf"
    for directory in _instance_directories(sandbox, conf.read_text(encoding="utf-8")):
        directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    # MixMonitor with a relative file name records into spool/monitor (see extensions.conf).
    (sandbox.instance_dir / "spool" / "monitor").mkdir(mode=0o750, parents=True, exist_ok=True)
    link = sandbox.instance_dir.parent / CURRENT_LINK
    tmp = link.with_name(f".{CURRENT_LINK}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(sandbox.instance_dir.name)
    os.replace(tmp, link)
    return conf


def _instance_directories(sandbox: AsteriskSandbox, asterisk_conf: str) -> list[Path]:
    """Host paths of the ``ast*dir`` directories of ``asterisk.conf`` that belong to the instance."""
    inside = str(sandbox.chroot_instance_dir)
    return [
        sandbox.host_path(path)
        for path in _DIRECTORY.findall(asterisk_conf)
        if path == inside or path.startswith(inside + "/")
    ]


def check_image(sandbox: AsteriskSandbox) -> list[str]:
    """What the image lacks for the rendered configuration (empty when it is complete)."""
    problems = []
    try:
        values = sandbox.template_values()
        sandbox.render()
    except SandboxError as err:
        return [str(err)]
    moddir = sandbox.host_path(values["ASTMODDIR"])
    if not (moddir / "chan_pjsip.so").is_file():
        problems.append(f"no Asterisk modules (chan_pjsip.so) in {moddir}")
    moh = sandbox.host_path("/usr/share/asterisk/moh")
    if not any(moh.glob("*.wav")):
        problems.append(f"no music on hold in {moh} (package asterisk-moh-opsound-wav)")
    sounds = sandbox.prompts_dir().parent  # sounds/en, resolved inside the root
    if not (sounds / "ss-noservice.wav").exists():
        problems.append(f"no core sounds in {sounds} (package asterisk-core-sounds-en-wav)")
    try:
        names = prompt_names(sandbox.prompts_file)
    except RenderError as err:
        return [*problems, str(err)]
    prompts = sandbox.prompts_dir()
    missing = [name for name in names if not (prompts / f"{name}.wav").is_file()]
    if missing:
        problems.append(f"prompts missing in {prompts}: {', '.join(missing)}")
    return problems


def prompt_names(path: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise RenderError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise RenderError(f"{path}: must map prompt name -> text")
    return [str(name) for name in data]


def install_prompts(sandbox: AsteriskSandbox) -> list[str]:
    """Render prompts.yaml into ``<root>/usr/share/asterisk/sounds/en/callcenter``."""
    sounds = sandbox.prompts_dir().parent  # sounds/en, resolved inside the root
    sounds.mkdir(parents=True, exist_ok=True)
    try:
        return sandbox.install_prompts()
    except SandboxError as err:
        raise RenderError(str(err)) from err


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["config", "check", "prompts"])
    parser.add_argument("--root", type=Path, default=Path("/"),
                        help="the file system that plays the sandbox root (default /)")
    parser.add_argument("--conf-dir", type=Path, default=None,
                        help=f"the asterisk_conf/ templates (default {IMAGE_CONF_DIR})")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    conf_dir = args.conf_dir if args.conf_dir is not None else IMAGE_CONF_DIR
    root = args.root.absolute()
    try:
        if args.command == "check":
            # Build time: the image's own defaults; nothing is written.
            settings = container_settings({}, root)
        else:
            settings = container_settings(environ, root)
        sandbox = AsteriskSandbox(settings, conf_dir=conf_dir)
        if args.command == "config":
            weak = weak_secrets(settings, environ)
            if weak and environ.get(ALLOW_TEST_SECRETS) != "1":
                raise RenderError(
                    f"still a public test value or {PLACEHOLDER}: {', '.join(weak)}; set real "
                    "secrets (docker/.env), or "
                    f"{ALLOW_TEST_SECRETS}=1 for a throw-away test container"
                )
            conf = write_config(sandbox)
            print(f"render_config: Asterisk configuration rendered into {conf.parent} "
                  f"(instance {sandbox.instance!r})", file=sys.stderr)
            print(conf)
        elif args.command == "check":
            problems = check_image(sandbox)
            if problems:
                raise RenderError("the image is incomplete:\n  " + "\n  ".join(problems))
            print("render_config: templates render; modules, sounds and prompts present",
                  file=sys.stderr)
        else:
            rendered = install_prompts(sandbox)
            print(f"render_config: prompts rendered into {sandbox.prompts_dir()}: "
                  f"{', '.join(rendered) or 'none changed'}", file=sys.stderr)
    except RenderError as err:
        print(f"render_config: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
