"""Enrol a simulated fleet (``commune-agent simulate --write-fleet``) for the real broker: its agents join the
fleet inventory, each gets its own Mosquitto password and ACL entries, and the simulator gets the passwords.

Simulated agents are the inventory entries whose id starts with ``sim-``; running this again replaces them
(entries of the old simulated fleet that are gone are removed) and keeps every other agent. Passwords are kept
across runs for agents that stay, so a running simulator is not locked out.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml

from collector.broker import (
    COLLECTOR_USER,
    acl_text,
    hash_password,
    read_passwd,
    verify_password,
    write_passwd,
)
from collector.config import parse_inventory
from collector.errors import ConfigError

SIM_PREFIX = "sim-"


def _load_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping")
    return doc


def simulate_fleet(fleet_path: Path, inventory_path: Path, passwd_path: Path, acl_path: Path, secrets_path: Path,
                   collector_password: str | None = None) -> tuple[int, int]:
    """Returns (simulated agents enrolled, stale simulated agents removed)."""
    sim = _load_yaml(fleet_path, "simulated fleet").get("agents") or {}
    if not isinstance(sim, dict) or not sim:
        raise ConfigError(f"{fleet_path}: agents: no simulated agents")
    bad = [a for a in sim if not str(a).startswith(SIM_PREFIX)]
    if bad:
        raise ConfigError(f"{fleet_path}: agents: ids must start with {SIM_PREFIX!r} ({bad[0]!r} does not)")
    doc = _load_yaml(inventory_path, "fleet inventory") if inventory_path.exists() else {"agents": {}}
    agents: dict[str, Any] = {k: v for k, v in (doc.get("agents") or {}).items() if not str(k).startswith(SIM_PREFIX)}
    removed = len(doc.get("agents") or {}) - len(agents) - len(set(sim) & set(doc.get("agents") or {}))
    agents.update(sim)
    doc["agents"] = agents
    inventory = parse_inventory(doc, str(inventory_path))  # refuses unknown communes, bad ids, unknown keys
    old = _load_yaml(secrets_path, "simulator secrets").get("agents", {}) if secrets_path.exists() else {}
    entries = {u: h for u, h in read_passwd(passwd_path).items() if not u.startswith(SIM_PREFIX)}
    passwords: dict[str, str] = {}
    hashes = read_passwd(passwd_path)
    for agent_id in sim:
        pw = str(old.get(agent_id) or secrets.token_urlsafe(18))
        passwords[agent_id] = pw
        kept = hashes.get(agent_id)
        entries[agent_id] = kept if kept and verify_password(pw, kept) else hash_password(pw)
    if collector_password is not None and not verify_password(collector_password, entries.get(COLLECTOR_USER, "")):
        entries[COLLECTOR_USER] = hash_password(collector_password)
    inventory_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = inventory_path.with_name(inventory_path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.replace(inventory_path)
    write_passwd(passwd_path, entries)
    acl_path.parent.mkdir(parents=True, exist_ok=True)
    acl_path.write_text(acl_text(inventory), encoding="utf-8")
    secrets_path.parent.mkdir(parents=True, exist_ok=True)
    secrets_path.touch(mode=0o600)
    secrets_path.chmod(0o600)
    secrets_path.write_text("# MQTT passwords of the simulated agents (commune-agent simulate --secrets).\n"
                            + yaml.safe_dump({"agents": passwords}), encoding="utf-8")
    return len(sim), max(0, removed)
