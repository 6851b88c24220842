"""Enrolment of agents, one or many at once: fleet-inventory entries, broker passwords, and a bundle per PC
(``<out>/<agent id>/``: ``agent.yaml``, ``agent.password``, ``ca.pem``) ready to copy to it.

All or nothing: every request is checked first (agent id, commune code, duplicates, re-enrolment rules)
and every problem is reported together; only then is anything written. Re-enrolling an id already in the
inventory is refused unless ``rotate_password`` (a new password: the PC must get the new bundle) or
``move`` (a new commune/site; the password stays) says what is meant.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from agent import wire
from collector.broker import COLLECTOR_USER, hash_password, read_passwd, write_passwd
from collector.config import parse_inventory
from collector.errors import ConfigError
from collector.registry import PHU_THO, communes, normalise_code

CONFIG_NAME, PASSWORD_NAME, CA_NAME = "agent.yaml", "agent.password", "ca.pem"
CATALOGUES = {PHU_THO: "phutho"}  # province code -> the agent's shipped portal catalogue


@dataclass(frozen=True)
class Request:
    agent_id: str
    commune: str
    site: str = "main"
    name: str = ""
    role: str = ""
    where: str = ""
    """Where the request came from, for error messages (e.g. ``may.csv: row 4``)."""
    isp: str = ""
    """The site's ISP (e.g. vnpt), for ISP outage correlation."""


@dataclass(frozen=True)
class Broker:
    host: str
    port: int = 8883
    ca_file: Path | None = None
    """CA certificate that signed the broker's certificate; copied into every bundle. None: system CAs."""


@dataclass(frozen=True)
class Bundle:
    agent_id: str
    directory: Path
    password: str | None
    """None when the PC keeps its password (``move`` without ``rotate_password``)."""

    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_NAME


def _read_inventory(path: Path, create: bool) -> dict[str, Any]:
    if not path.exists():
        if create:
            return {"agents": {}}
        raise ConfigError(f"{path}: fleet inventory does not exist (check the path, or pass --new-inventory "
                          "to start an empty one)")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the fleet inventory: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping with 'agents'")
    if doc.get("agents") is None:
        doc["agents"] = {}
    return doc


def _check(req: Request, agents: dict[str, Any], seen: set[str], province: int, rotate: bool,
           move: bool) -> str | None:
    """The problem with one request, or None."""
    where = f"{req.where}: " if req.where else ""
    if not wire.is_valid_agent_id(req.agent_id) or req.agent_id == COLLECTOR_USER:
        return f"{where}agent id {req.agent_id!r} is not valid (pattern {wire.AGENT_ID_PATTERN}, not 'collector')"
    if req.agent_id in seen:
        return f"{where}agent id {req.agent_id!r} appears twice"
    seen.add(req.agent_id)
    code = normalise_code(req.commune.strip())
    if code not in communes(province):
        return f"{where}commune code {req.commune!r} is not a commune of province {province} (see: commune-collector communes)"
    if not req.site.strip():
        return f"{where}site is empty"
    old = agents.get(req.agent_id)
    if old is not None:
        old = old or {}
        same_place = normalise_code(str(old.get("commune", ""))) == code and old.get("site", "main") == req.site
        if not same_place and not move:
            return (f"{where}{req.agent_id} is already enrolled in commune {old.get('commune')} site "
                    f"{old.get('site', 'main')}; pass --move to move it to {code} site {req.site}")
        if same_place and not rotate:
            return (f"{where}{req.agent_id} is already enrolled (commune {code}, site {req.site}); pass "
                    "--rotate-password to issue a new password (the PC then needs its new bundle)")
    return None


def _row_order(problem: str) -> tuple[int, str]:
    head = problem.split(":", 2)
    row = head[1].strip().removeprefix("row ") if len(head) > 2 else ""
    return (int(row) if row.isdigit() else 0, problem)


def ping_targets(catalogue: str) -> list[dict[str, str]]:
    """One ping target per distinct host of the agent's shipped portal catalogue."""
    text = resources.files("agent").joinpath("defaults", f"services-{catalogue}.yaml").read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for entry in yaml.safe_load(text) or []:
        host = urlsplit(str(entry.get("url", ""))).hostname
        if host and host not in out:
            out[host] = {"host": host, "name": str(entry["name"]), "role": "datacentre"
                         if host.endswith(".gov.vn") and host.count(".") > 2 else "public"}
    return list(out.values())


def agent_config(agent_id: str, broker: Broker, catalogue: str) -> dict[str, Any]:
    """A complete commune-PC agent config; file paths are relative to the config's own directory."""
    tls: dict[str, str] = {"ca_file": CA_NAME} if broker.ca_file else {}
    probes: dict[str, Any] = {
        "host": {"interval": "30s"},
        "ping": {"interval": "30s", "gateway": True, "targets": ping_targets(catalogue) if catalogue else []},
    }
    if catalogue:
        probes["http"] = {"interval": "60s", "catalogue": catalogue}
    return {"agent": {"id": agent_id},
            "mqtt": {"host": broker.host, "port": broker.port, "password_file": PASSWORD_NAME, "tls": tls},
            "probes": probes}


def enroll(
    requests: list[Request], inventory_path: Path, passwd_path: Path, out_dir: Path, broker: Broker, *,
    rotate_password: bool = False, move: bool = False, create_inventory: bool = False, province: int = PHU_THO,
    problems: list[str] | None = None,
) -> list[Bundle]:
    """``problems``: rows of the input already found bad (e.g. empty cells); reported with the others."""
    extra = list(problems or [])
    problems = list(extra)
    if not requests and not problems:
        raise ConfigError("nothing to enroll")
    if broker.ca_file is not None and not broker.ca_file.is_file():
        raise ConfigError(f"{broker.ca_file}: CA file does not exist")
    doc = _read_inventory(inventory_path, create_inventory)
    agents: dict[str, Any] = doc["agents"]
    seen: set[str] = set()
    problems += [p for r in requests if (p := _check(r, agents, seen, province, rotate_password, move))]
    if problems:
        problems.sort(key=_row_order)
        raise ConfigError(f"{len(problems)} of {len(requests) + len(extra)} rows refused, nothing enrolled:\n  "
                          + "\n  ".join(problems))
    entries = read_passwd(passwd_path)
    bundles: list[Bundle] = []
    for r in requests:
        entry: dict[str, str] = {"commune": normalise_code(r.commune.strip()), "site": r.site}
        if r.name:
            entry["name"] = r.name
        if r.role and r.role != "pc":
            entry["role"] = r.role
        if r.isp:
            entry["isp"] = r.isp
        existed = r.agent_id in agents
        agents[r.agent_id] = entry
        password = None
        if not existed or rotate_password or r.agent_id not in entries:
            password = secrets.token_urlsafe(24)
            entries[r.agent_id] = hash_password(password)
        bundles.append(Bundle(r.agent_id, out_dir / r.agent_id, password))
    parse_inventory(doc, str(inventory_path), province)  # the whole result still loads

    catalogue = CATALOGUES.get(province, "")
    for b, r in zip(bundles, requests, strict=True):
        _write_bundle(b, r, broker, catalogue)
    write_passwd(passwd_path, entries)
    tmp = inventory_path.with_name(inventory_path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.replace(inventory_path)
    return bundles


def _write_bundle(b: Bundle, r: Request, broker: Broker, catalogue: str) -> None:
    b.directory.mkdir(parents=True, exist_ok=True)
    if b.password is not None:
        secret = b.directory / PASSWORD_NAME
        secret.touch(mode=0o600)
        secret.chmod(0o600)
        secret.write_text(b.password + "\n", encoding="utf-8")
    if broker.ca_file:
        shutil.copyfile(broker.ca_file, b.directory / CA_NAME)
    header = (f"# Agent config for {r.agent_id} (commune {normalise_code(r.commune)}, site {r.site}"
              f"{', ' + r.name if r.name else ''}). Copy this whole folder to the PC; paths are relative to it.\n")
    body = yaml.safe_dump(agent_config(r.agent_id, broker, catalogue), allow_unicode=True, sort_keys=False)
    (b.directory / CONFIG_NAME).write_text(header + body, encoding="utf-8")
