#!/usr/bin/env bash
# Benchmarks (not tests): figures are ratios against a reference measured in the same run.
#   scripts/bench.sh            agent footprint (2 min) and collector throughput
#   scripts/bench.sh soak       a long outage soak (see bench/soak.py)
#   scripts/bench.sh alerts     fault -> notification mail latency with the default rules (~7 min)
#   scripts/bench.sh hostile    honest ack latency / collector RSS under hostile floods (bench/hostile.py)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh >/dev/null
PY=.venv/bin/python
case "${1:-all}" in
  soak) $PY -m bench.soak "${@:2}" ;;
  alerts) $PY -m bench.alert_latency "${@:2}" ;;
  all)
    echo "== agent footprint";       $PY -m bench.agent_footprint --seconds "${FOOTPRINT_SECONDS:-120}"
    echo "== collector throughput";  $PY -m bench.collector_throughput
    echo "== alert latency";         $PY -m bench.alert_latency
    for extra in bench/http_vs_curl.py bench/ping_vs_ping.py bench/snmp_poll.py; do
      [[ -f $extra ]] && { echo "== $extra"; $PY -m "bench.$(basename "$extra" .py)"; }
    done ;;
  *) $PY -m "bench.$1" "${@:2}" ;;
esac
