"""What the running agent imports: modules it does not need stay unloaded (resident memory, start-up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

UNNEEDED = ("pkcs11", "cryptography", "statistics", "zoneinfo", "difflib", "http.client", "email", "importlib.resources",
            "agent.simulate.engine", "hashlib", "agent.probes.token.scanner", "agent.probes.token.certs",
            "agent.probes.token.pkcs11scan")
"""Modules the running agent does not need (heavy, or imported only for other commands or the collector)."""


def usual_probes_config(tmp_path: Path) -> Path:
    """An agent config with host, tcp and dns probes on local targets (a round runs offline)."""
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("agent: {id: pc-memory-test}\n"
                   "probes:\n"
                   "  host: {}\n"
                   "  tcp: {targets: [{name: closed, host: 127.0.0.1, port: 9}]}\n"
                   "  dns: {system: false, resolvers: [{name: local, address: 127.0.0.1, port: 9}]}\n",
                   encoding="utf-8")
    return cfg


def test_urllib_request_is_imported_only_when_used() -> None:
    # The agent's MQTT stack (paho-mqtt) imports urllib.request; the agent defers it until it is really used.
    code = (
        "import sys; from agent.memory import defer_import; defer_import('urllib.request')\n"
        "import agent.publish, urllib.request\n"
        "print('http.client' in sys.modules)\n"
        "from urllib.request import getproxies\n"
        "print('http.client' in sys.modules, callable(getproxies), type(urllib.request).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=REPO)
    assert out.stdout.split() == ["False", "True", "True", "module"]


def test_a_round_of_the_usual_probes_leaves_the_unneeded_modules_unloaded(tmp_path: Path) -> None:
    cfg = usual_probes_config(tmp_path)
    code = (
        "import asyncio, sys; from agent.memory import defer_import; defer_import('urllib.request')\n"
        "import agent.runner, agent.probes.token; from agent.check import collect_once\n"
        "from agent.config import load_config\n"
        "from agent.cli import _parser; _parser()\n"  # the command line, as ``commune-agent run`` builds it
        "from agent.probes.http import load_catalogue; assert load_catalogue('phutho')\n"  # the shipped catalogue
        f"results, _ = asyncio.run(collect_once(load_config({str(cfg)!r})))\n"
        "print(sorted(results))\n"
        f"print(sorted(m for m in {UNNEEDED!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=REPO)
    probes, loaded = out.stdout.strip().splitlines()
    assert probes == "['dns', 'host', 'tcp']", out
    assert loaded == "[]", out
