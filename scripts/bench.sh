#!/usr/bin/env bash
# Benchmarks (not tests): figures are ratios against a reference measured in the same run.
#   scripts/bench.sh            the table (~20 min): agent vs node-exporter, collector vs InfluxDB direct ingest,
#                               collector under a simulated province, alert latency -> bench/results/latest.md
#   scripts/bench.sh table      print the latest table again (--keep: make it the committed reference)
#   scripts/bench.sh more       http/ping/snmp probe accuracy benchmarks
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
  table) $PY -m bench.results "${@:2}" ;;
  all)
    # one table (bench/results/latest.md): each step records its rows; `scripts/bench.sh table --keep` makes
    # the latest run the committed reference (bench/results/reference.*)
    echo "== agent footprint vs prometheus-node-exporter"
    $PY -m bench.agent_footprint --seconds "${FOOTPRINT_SECONDS:-300}"
    echo "== collector throughput vs InfluxDB direct ingest"; $PY -m bench.collector_throughput
    echo "== collector under a simulated province";  $PY -m bench.province_load --speed "${PROVINCE_SPEED:-1}" \
      --minutes "${PROVINCE_MINUTES:-5}"
    echo "== alert latency";         $PY -m bench.alert_latency
    echo "== table";                 $PY -m bench.results ;;
  more)
    for extra in bench/http_vs_curl.py bench/ping_vs_ping.py bench/snmp_poll.py; do
      [[ -f $extra ]] && { echo "== $extra"; $PY -m "bench.$(basename "$extra" .py)"; }
    done ;;
  *) $PY -m "bench.$1" "${@:2}" ;;
esac
