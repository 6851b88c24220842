"""``python -m devstack wait --since T``: wait until InfluxDB holds a reading newer than T from every probe the local
agent runs (its ``agent_probe`` point per probe run), so the first look at the data is never mostly "-" nor an old run's."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml


def expected_probes(agent_yaml: Path) -> tuple[str, list[str]]:
    """(agent id, the enabled probes) of the local agent's config."""
    doc = yaml.safe_load(agent_yaml.read_text(encoding="utf-8")) or {}
    probes = doc.get("probes") or {}
    enabled = [name for name, body in probes.items() if (body or {}).get("enabled", True) is not False]
    return str(doc["agent"]["id"]), sorted(enabled)


def fresh_probes(influx_url: str, database: str, agent: str, since_s: float) -> set[str]:
    """The probes of ``agent`` with a run recorded after ``since_s`` (Unix seconds)."""
    q = (f'SELECT last("duration_ms") FROM "agent_probe" WHERE "agent" = \'{agent}\' '
         f'AND time > {int(since_s * 1e9)} GROUP BY "probe"')
    data = urllib.parse.urlencode({"q": q, "db": database}).encode()
    try:
        with urllib.request.urlopen(f"{influx_url.rstrip('/')}/query", data=data, timeout=5) as r:
            result = json.loads(r.read())["results"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return set()
    return {s["tags"]["probe"] for s in result.get("series", []) if s.get("values")}


def wait_fresh(stack_dir: Path, since_s: float, timeout: float, log: Callable[[str], None] = print,
               poll: float = 1.0) -> list[str]:
    """Wait for a fresh reading of every enabled probe; returns the probes still missing (empty: all fresh)."""
    agent, expected = expected_probes(stack_dir / "agent.yaml")
    collector = yaml.safe_load((stack_dir / "collector.yaml").read_text(encoding="utf-8"))
    url, db = collector["influx"]["url"], collector["influx"]["database"]
    deadline = time.monotonic() + timeout
    shown: set[str] = set()
    while True:
        fresh = fresh_probes(url, db, agent, since_s)
        missing = [p for p in expected if p not in fresh]
        if fresh - shown:
            shown |= fresh
            log(f"fresh readings: {', '.join(sorted(fresh & set(expected)))}"
                + (f"; waiting for: {', '.join(missing)}" if missing else ""))
        if not missing or time.monotonic() >= deadline:
            return missing
        time.sleep(poll)
