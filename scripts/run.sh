#!/usr/bin/env bash
# The main job: install what is missing, start the local stack (Mosquitto, InfluxDB, Alertmanager on
# 127.0.0.1, a collector and an agent monitoring this machine), wait for data, and show it.
# Stop everything with: .venv/bin/python -m devstack down
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
started=$(date +%s)
# The whole province at once: a simulated Phú Thọ (148 communes, one gateway and SIM_PCS office PCs per site,
# each with its own MQTT identity) runs in the background beside the real local agent (docs/simulator.md).
.venv/bin/python -m devstack up --simulate-pcs "${SIM_PCS:-1}" "$@"
echo "waiting for a fresh reading of every probe (newer than this start) to reach InfluxDB..."
.venv/bin/python -m devstack wait --since "$started" --timeout 120 "$@" \
  || echo "(some probes have no fresh reading yet; the table below shows what arrived)"
.venv/bin/commune-collector status
cat <<'TXT'

Where to look next:
  .venv/bin/commune-collector status        latest reading per agent and commune (from InfluxDB)
  .venv/bin/commune-agent check             is it our link, our PC, or the portal? (one-shot, Vietnamese verdict)
  .venv/bin/python -m devstack status       which services run;  logs are in state/<service>/<service>.log
  .venv/bin/commune-agent simulate --help   the province simulator (state/simulator/simulator.log; docs/simulator.md)
  .venv/bin/python -m devstack down         stop everything this command started
TXT
