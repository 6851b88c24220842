#!/usr/bin/env bash
# Install what the project needs on this machine: Debian packages (apt-get, as root) and a Python venv.
# Idempotent: does nothing that is already done. Usage: scripts/bootstrap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < scripts/apt-packages.txt
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
    echo "bootstrap: run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "bootstrap: apt-get not found; install these packages by hand: ${missing[*]}" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || { echo "bootstrap: apt-get update failed (no network to the Debian mirror?)" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-}
if [[ -z "$PY" ]]; then
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY=$(command -v "$cand"); break
    fi
  done
fi
[[ -n "$PY" ]] || { echo "bootstrap: need Python >= 3.11 with venv/ensurepip (apt-get install python3-venv)" >&2; exit 1; }

stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" ]]; then
  [[ -x .venv/bin/python ]] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -U pip 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/pip install -q --disable-pip-version-check -e ".[collector,dev]" 2>&1 | grep -vE '^WARNING: Location|BuildBackendWarning|^ +' || true
  .venv/bin/python -c 'import agent, collector, aiomqtt, msgspec, aiohttp, fpdf' || { echo "bootstrap: venv install failed" >&2; exit 1; }
  rm -f .venv/.installed-*; touch "$stamp"
fi
echo "bootstrap: ok ($ROOT/.venv)"
