"""An agent loads only the probes its config enables, and no heavy library before a probe needs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent.probes import REGISTRY

SCRIPT = """
import json, sys
from agent.config import parse_config
import agent.runner, agent.cli
cfg = parse_config({"agent": {"id": "pc-a"}, "probes": {"host": {}, "ping": {"targets": [{"host": "127.0.0.1"}]},
                   "http": {"targets": [{"name": "p", "url": "http://127.0.0.1/"}]}, "token": {}}}, "t.yaml")
print(json.dumps(sorted(m for m in sys.modules)))
"""


def test_only_the_enabled_probes_and_no_heavy_library_are_imported() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], check=True, capture_output=True, text=True, timeout=60)
    loaded = set(json.loads(out.stdout))
    assert {"agent.probes.host", "agent.probes.ping", "agent.probes.http", "agent.probes.token"} <= loaded
    for module in ("agent.probes.snmp", "agent.probes.lan", "agent.probes.traceroute", "agent.probes.uplink",
                   "agent.probes.clock", "cryptography", "pkcs11", "pysnmp", "scapy", "aiohttp"):
        assert module not in loaded, module


def test_the_registry_lists_every_probe_and_loads_each_on_lookup() -> None:
    assert "snmp" in REGISTRY and "nope" not in REGISTRY and len(REGISTRY) == len(list(REGISTRY))
    assert {name: REGISTRY[name].name for name in REGISTRY} == {name: name for name in REGISTRY}
    assert REGISTRY.get("nope") is None
    with pytest.raises(KeyError):
        REGISTRY["nope"]
