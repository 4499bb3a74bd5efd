#!/usr/bin/env bash
# The container deployment, built and run for real (issue 14): builds the images
# (scripts/docker_build.sh, cached), brings docker/compose.cluster.yml up, places a real call
# through Kamailio, the IVR and an agent's phone, kills a server node and places a second call
# on the other. Prints what it measured; exit status 1 on a failure. See bench/docker_failover.py
# and docs/deployment.md. Options are passed on (--no-build, --keep, --kamailio-conf DIR).
#
#   sudo scripts/docker_check.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! -x "$here/.venv/bin/python" ]]; then
  echo "no .venv: run scripts/setup.sh --test first (the scenario's phones are pyVoIP)" >&2
  exit 1
fi
exec "$here/.venv/bin/python" "$here/bench/docker_failover.py" "$@"
