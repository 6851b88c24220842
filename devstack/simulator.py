"""The province simulator in the local stack (``python -m devstack up --simulate-pcs N``).

``configure`` enrols the simulated fleet of the scenario (its agents join ``state/stack/fleet.yaml``, with
broker passwords, ACL and the simulator's secrets file, through ``collector.simfleet``) and records the
settings in ``state/stack/simulator.yaml``; from then on ``services`` includes the simulator, so ``up`` starts
it after the collector and ``down`` stops it. Remove that file (and the ``sim-`` agents) to stop simulating.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from devstack.services import Service, log_says, python_service

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = REPO / "examples" / "scenarios" / "phutho-demo.yaml"


def configure(stack_dir: Path, pcs_per_site: int, scenario: Path | None = None) -> int:
    """Enrol the simulated fleet into the stack's inventory; returns the number of simulated agents."""
    from agent.simulate.fleet import build_fleet, write_fleet
    from agent.simulate.scenario import load_scenario, parse_scenario
    from collector.simfleet import simulate_fleet

    scenario = (scenario or DEFAULT_SCENARIO).resolve()
    base = load_scenario(scenario)
    sc = parse_scenario({**yaml.safe_load(scenario.read_text(encoding="utf-8")), "pcs_per_site": pcs_per_site},
                        base.source)
    fleet = build_fleet(sc)
    write_fleet(fleet, stack_dir / "sim-fleet.yaml")
    simulate_fleet(stack_dir / "sim-fleet.yaml", stack_dir / "fleet.yaml", stack_dir / "sim-passwd",
                   stack_dir / "sim-acl", stack_dir / "sim-secrets.yaml")
    (stack_dir / "simulator.yaml").write_text(yaml.safe_dump({"scenario": str(scenario), "pcs_per_site": pcs_per_site}))
    return len(fleet.agents)


def services(state: Path, mqtt_port: int) -> list[Service]:
    settings = state / "stack" / "simulator.yaml"
    if not settings.exists():
        return []
    cfg = yaml.safe_load(settings.read_text()) or {}
    d = state / "simulator"
    svc = python_service("simulator", d, [
        "agent.cli", "simulate", "--scenario", str(cfg["scenario"]), "--pcs-per-site", str(cfg["pcs_per_site"]),
        "--port", str(mqtt_port), "--secrets", str(state / "stack" / "sim-secrets.yaml")],
        log_says(d, "simulator", "simulating"))
    svc.fresh_log = True
    return [svc]
