"""The virtual fleet: communes -> sites -> agents (one gateway per site, N office PCs), drawn from a seed.

The same scenario (province, commune selection, seed, sites, PCs) always gives the same fleet, so the
collector-side command that enrolls it (``commune-collector simulate-fleet``) and the simulator agree. The
fleet file (``write_fleet``) is the fleet inventory's format (agent id -> commune, site, name, role, isp).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from agent.errors import ConfigError
from agent.simulate.province import communes
from agent.simulate.scenario import Scenario

ISPS = (("vnpt", 0.55), ("viettel", 0.38), ("fpt", 0.07))
ROUTERS = ("huawei", "tp-link", "draytek", "cisco", "mikrotik")
SITE_NAMES = ("tru-so-chinh", "diem-2", "diem-3", "diem-4", "diem-5", "diem-6", "diem-7", "diem-8", "diem-9")
ID_PREFIX = "sim-"


@dataclass(frozen=True)
class Site:
    commune: str
    commune_name: str
    name: str
    isp: str
    router_vendor: str
    base_rtt_ms: float
    """Round trip to the provincial data centre on a good day."""
    loss_percent: float
    """Typical packet loss of the link (a few sites are unstable)."""


@dataclass(frozen=True)
class SimAgent:
    agent_id: str
    role: str  # "gateway" or "pc"
    site: Site
    has_token: bool = False
    cert_not_after_ns: int = 0
    saturday: bool = False
    """Works Saturday mornings (the one-stop desk of some communes)."""
    mem_total: int = 8 * 2**30


@dataclass
class Fleet:
    province: int
    province_name: str
    sites: list[Site] = field(default_factory=list)
    agents: list[SimAgent] = field(default_factory=list)

    def inventory(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for a in self.agents:
            entry = {"commune": a.site.commune, "site": a.site.name, "isp": a.site.isp,
                     "name": ("Máy giám sát điểm " if a.role == "gateway" else "Máy văn phòng ") + a.site.name}
            if a.role == "gateway":
                entry["role"] = "gateway"
            out[a.agent_id] = entry
        return out


def _pick_isp(rng: random.Random) -> str:
    return rng.choices([n for n, _ in ISPS], weights=[w for _, w in ISPS])[0]


def build_fleet(sc: Scenario, reference_ns: int = 1_798_761_600 * 10**9) -> Fleet:
    """``reference_ns``: instant the certificates' lifetimes are drawn around (default 2027-01-01)."""
    try:
        province_name, rows = communes(sc.province)
    except KeyError:
        raise ConfigError(f"{sc.source}: province: unknown province code {sc.province}") from None
    by_code = dict(rows)
    if sc.only:
        missing = [c for c in sc.only if c not in by_code]
        if missing:
            raise ConfigError(f"{sc.source}: only: {', '.join(missing)} not a commune of province {sc.province}")
        rows = [(c, by_code[c]) for c in sorted(set(sc.only))]
    elif sc.communes:
        rows = rows[: sc.communes]
    rng = random.Random(sc.seed)
    fleet = Fleet(sc.province, province_name)
    for code, name in rows:
        n_sites = rng.randint(2, max(2, sc.max_sites)) if sc.max_sites > 1 and rng.random() < sc.multi_site_share else 1
        for s in range(n_sites):
            unstable = rng.random() < 0.1
            site = Site(code, name, SITE_NAMES[s], _pick_isp(rng), rng.choice(ROUTERS),
                        base_rtt_ms=round(rng.lognormvariate(2.4, 0.35), 2),
                        loss_percent=round(rng.uniform(2.0, 8.0) if unstable else rng.uniform(0.0, 0.5), 2))
            fleet.sites.append(site)
            prefix = f"{ID_PREFIX}{code}-{s + 1}"
            fleet.agents.append(SimAgent(f"{prefix}-gw", "gateway", site, mem_total=4 * 2**30))
            for p in range(sc.pcs_per_site):
                days = rng.uniform(-20, 700)
                fleet.agents.append(SimAgent(
                    f"{prefix}-pc{p + 1:02d}", "pc", site, has_token=rng.random() < 0.8,
                    cert_not_after_ns=reference_ns + round(days * 86400e9), saturday=rng.random() < 0.15,
                    mem_total=rng.choice((4, 8, 8, 16)) * 2**30))
    _check_faults(sc, fleet)
    return fleet


def _check_faults(sc: Scenario, fleet: Fleet) -> None:
    """Every commune, site and agent a fault names exists in the fleet (a typo would silently do nothing)."""
    sites = {(s.commune, s.name) for s in fleet.sites}
    communes_ = {s.commune for s in fleet.sites}
    agents = {a.agent_id for a in fleet.agents}
    for i, f in enumerate(sc.faults):
        commune = getattr(f, "commune", None)
        site = getattr(f, "site", "")
        agent = getattr(f, "agent", "")
        if commune is not None and commune not in communes_:
            raise ConfigError(f"{sc.source}: faults[{i}].commune: {commune} is not in the simulated fleet")
        if site and commune is not None and (commune, site) not in sites:
            raise ConfigError(f"{sc.source}: faults[{i}].site: commune {commune} has no site {site!r}")
        if agent and agent not in agents:
            raise ConfigError(f"{sc.source}: faults[{i}].agent: {agent!r} is not in the simulated fleet")


def write_fleet(fleet: Fleet, path: Path) -> None:
    """The fleet in the inventory's format, for ``commune-collector simulate-fleet``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# Simulated fleet of province {fleet.province} ({fleet.province_name}): {len(fleet.sites)} sites, "
              f"{len(fleet.agents)} agents. Written by commune-agent simulate --write-fleet.\n")
    body = yaml.safe_dump({"agents": fleet.inventory()}, allow_unicode=True, sort_keys=False)
    path.write_text(header + body, encoding="utf-8")
