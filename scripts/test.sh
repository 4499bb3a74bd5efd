#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: static checks, unit tests, then integration and
# end-to-end tests against the real Asterisk sandbox, a real PostgreSQL and real SIP phones.
#
#   scripts/test.sh [pytest arguments]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh" --test
cd "$here"
venv="$here/.venv/bin"

echo "==> ruff"
"$venv/ruff" check .
echo "==> mypy --strict"
"$venv/mypy"
echo "==> pytest"
started=$(date +%s)
"$venv/python" -m pytest "$@"
echo "==> whole suite took $(( $(date +%s) - started )) s"
