#!/usr/bin/env bash
# The main job: install what is missing, start the local stack (Mosquitto, InfluxDB, Alertmanager on
# 127.0.0.1, a collector and an agent monitoring this machine), wait for data, and show it.
# Stop everything with: .venv/bin/python -m devstack down
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
started=$(date +%s)
.venv/bin/python -m devstack up "$@"
echo "waiting for a fresh reading of every probe (newer than this start) to reach InfluxDB..."
.venv/bin/python -m devstack wait --since "$started" --timeout 120 "$@" \
  || echo "(some probes have no fresh reading yet; the table below shows what arrived)"
.venv/bin/commune-collector status
cat <<'TXT'

Where to look next:
  .venv/bin/commune-collector status        latest reading per agent and commune (from InfluxDB)
  .venv/bin/commune-agent check             is it our link, our PC, or the portal? (one-shot, Vietnamese verdict)
  .venv/bin/python -m devstack status       which services run;  logs are in state/<service>/<service>.log
  .venv/bin/python -m devstack down         stop everything this command started
TXT
