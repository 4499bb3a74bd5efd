#!/usr/bin/env bash
# Sets up everything the server and its tests need on Debian 12, as root. Idempotent and quick when
# nothing is missing.
#
#   scripts/setup.sh          system packages, .venv with the server, the Asterisk sandbox root
#   scripts/setup.sh --test   the same plus the test tools (pytest, pyVoIP, mypy, ruff...)
#
# The Asterisk root (a Debian sid chroot, ~570 MB, ~1 min to build) is cached outside the clone, in
# /var/cache/callcenter/asterisk-root (setting asterisk.sandbox_root), and reused by every clone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras=""
[[ "${1:-}" == "--test" ]] && extras="[test]"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/setup.sh must run as root (it installs packages and builds a chroot)" >&2
  exit 1
fi

# System packages. debootstrap builds the Asterisk root; flite+sox render the voice prompts;
# espeak-ng speaks the IVR's text prompts (pyttsx3); postgresql and redis-server are the
# production stores (the tests start private instances); chromium runs the browser tests
# (Playwright drives /usr/bin/chromium; it never downloads a browser).
packages=(python3 python3-venv python3-dev gcc debootstrap flite sox postgresql redis-server
          sqlite3 espeak-ng ca-certificates chromium)
# The tests' second, independent SIP user agent (RFC 4733 DTMF, as real softphones send it).
[[ -n "$extras" ]] && packages+=(baresip-core)
# Kamailio (SIP proxy, dispatcher module): the tests put it in front of two sandbox Asterisk
# instances (several Asterisk servers, docs/asterisk.md); the binary only, never started as a service.
[[ -n "$extras" ]] && packages+=(kamailio)
# A CJK font: without one Chromium draws the Chinese pages' text as empty boxes (browser tests,
# screenshots).
[[ -n "$extras" ]] && packages+=(fonts-wqy-microhei)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python: any 3.11+ on PATH (Debian 12 ships 3.11).
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed; found $("$python" --version 2>&1)" >&2
  exit 1
fi
venv="$here/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  say "Creating $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed$extras"
if [[ ! -f "$stamp" || "$here/pyproject.toml" -nt "$stamp" ]]; then
  say "Installing the callcenter package$extras into .venv"
  "$venv/bin/pip" install -q --upgrade pip
  # Playwright (test extra) drives the system's /usr/bin/chromium: never download browsers.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$venv/bin/pip" install -q -e "$here$extras"
  touch "$stamp"
fi

say "Building the Asterisk sandbox root (cached; first time takes about a minute)"
"$venv/bin/python" -m callcenter asterisk build
