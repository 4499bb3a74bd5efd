#!/usr/bin/env bash
# Run the development Asterisk (a chroot with Asterisk 22; see docs/asterisk.md).
#
#   scripts/asterisk-sandbox.sh up|down|status|build
#
# Settings come from the usual places (CALLCENTER_CONFIG=<file>, CALLCENTER_* variables), e.g.
#   CALLCENTER_ASTERISK__SANDBOX_INSTANCE=mine CALLCENTER_ASTERISK__SIP_PORT=15060 \
#   CALLCENTER_ASTERISK__AMI_PORT=15038 scripts/asterisk-sandbox.sh up
# Needs root (chroot). Exit codes: 0 done, 1 error, 2 usage, 3 (status) not running.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$here/.venv/bin/python"
[[ -x "$python" ]] || python="$(command -v python3)"

case "${1:-}" in
  up|down|status|build) ;;
  *) echo "usage: $0 up|down|status|build" >&2; exit 2 ;;
esac

cd "$here"
exec "$python" -m callcenter asterisk "$1"
