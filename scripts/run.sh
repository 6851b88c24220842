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
# A sample monthly readiness report of this month so far (MONTH=YYYY-MM for another) for the local agent's
# commune, from the stack's InfluxDB; the same line as the README's (tests/dev/test_readme_report.py runs it).
# It never fails this script: a failure is reported and the stack keeps running.
echo "writing a sample monthly report (XLSX, DOCX, PDF, HTML) to state/reports/..."
set +e
.venv/bin/commune-collector report -c state/stack/collector.yaml --month "${MONTH:-$(date +%Y-%m)}" --communes 07900 --out state/reports
report_rc=$?
set -e
if [ "$report_rc" -eq 0 ]; then
  echo "sample report: $PWD/state/reports/ ($(ls state/reports | tr '\n' ' '))"
else
  echo "(the sample report could not be generated, exit code $report_rc; the stack is up regardless —"
  echo " run the commune-collector report line of README.md again to see why)"
fi
cat <<'TXT'

Where to look next:
  .venv/bin/commune-collector status        latest reading per agent and commune (from InfluxDB)
  .venv/bin/commune-agent check             is it our link, our PC, or the portal? (one-shot, Vietnamese verdict)
  .venv/bin/python -m devstack status       which services run;  logs are in state/<service>/<service>.log
  .venv/bin/commune-agent simulate --help   the province simulator (state/simulator/simulator.log; docs/simulator.md)
  state/reports/                            the sample monthly report (again: the README's report line)
  .venv/bin/python -m devstack down         stop everything this command started
TXT
