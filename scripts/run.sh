#!/usr/bin/env bash
# Sets everything up and runs the server with embedded defaults: SQLite (./callcenter.db), in-process
# state, and the sandbox Asterisk on 127.0.0.1 (SIP 5060, AMI 5038; FastAGI 4573; HTTP 8080).
# Ctrl-C stops the server, then the sandbox Asterisk.
#
#   scripts/run.sh [callcenter options, e.g. --config my.yaml or --set http.port=8081]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh"
cd "$here"
cc=("$here/.venv/bin/python" -m callcenter "$@")

"${cc[@]}" asterisk up
trap '"${cc[@]}" asterisk down' EXIT
echo
echo "Asterisk is up. Register a SIP phone as agent 1001 (password agentpass) and a second one as"
echo "the caller trunk (user caller, password callerpass) at 127.0.0.1:5060 over UDP, then dial 5000"
echo "from the caller and press 1. Health: http://127.0.0.1:8080/healthz  (see README.md)"
echo
"${cc[@]}" --set logging.format=console serve
