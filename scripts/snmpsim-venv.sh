#!/usr/bin/env bash
# Build (once) a private venv with snmpsim + snmpsim-data for the SNMP tests, under state/snmpsim-venv.
# Built from the system /usr/bin/python3 on purpose: as root, snmpsim drops privileges to `nobody`, which
# must be able to read the interpreter and the recordings (a Python under root's home would not be).
# Idempotent; prints the venv path on success. Usage: scripts/snmpsim-venv.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-$PWD/state/snmpsim-venv}
STAMP="$VENV/.installed-snmpsim-1.2-data-1.0"
if [[ ! -f "$STAMP" ]]; then
  PY=/usr/bin/python3
  [[ -x $PY ]] || PY=$(command -v python3)
  mkdir -p "$(dirname "$VENV")"
  [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check 'snmpsim>=1.1,<2' 'snmpsim-data>=1.0,<2' 2>&1 \
    | grep -vE '^WARNING: Location' >&2 || true
  "$VENV/bin/python" -c 'import snmpsim, snmpsim_data' >&2 || { echo "snmpsim-venv: install failed" >&2; exit 1; }
  chmod -R a+rX "$VENV"
  touch "$STAMP"
fi
echo "$VENV"
