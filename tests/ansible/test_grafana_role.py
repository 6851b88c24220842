"""The grafana role cannot be converged here (no Grafana package), so check what it copies: every source it
names exists in this repository, the provisioning it installs is consistent (one InfluxDB data source, the
dashboard provider's path is where the role puts the dashboards), and the dashboards it copies are the
generated ones."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import yaml

ANSIBLE = Path(__file__).resolve().parents[2] / "ansible"
ROLE = ANSIBLE / "roles" / "grafana"
REPO = ANSIBLE.parent


def _defaults(**override: Any) -> dict[str, Any]:
    """The role's defaults rendered as Ansible would for site.yml (playbook_dir = ansible/)."""
    raw = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    ctx = {"playbook_dir": str(ANSIBLE), **raw, **override}
    return {k: env.from_string(v).render(ctx) if isinstance(v, str) else v for k, v in ctx.items()}


def _copy_sources(v: dict[str, Any]) -> list[Path]:
    """Every file the configure tasks copy from the controller (``src`` with its loop items)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    out = []
    for task in yaml.safe_load((ROLE / "tasks" / "configure.yml").read_text()):
        module = task.get("ansible.builtin.copy")
        if not module or "src" not in module:
            continue
        for item in task.get("loop", [None]):
            item = env.from_string(item).render(v) if isinstance(item, str) else item
            out.append(Path(env.from_string(module["src"]).render({**v, "item": item})))
    return out


def test_every_file_the_role_copies_exists_in_the_repository() -> None:
    for major in (1, 2):
        sources = _copy_sources(_defaults(grafana_influxdb_major=major))
        assert len(sources) >= 4
        for src in sources:
            assert src.exists(), src
        names = {s.resolve().relative_to(REPO).as_posix() for s in sources}
        assert f"dashboards/provisioning/datasources/influxdb{major}.yaml" in names
        assert f"dashboards/provisioning/datasources/influxdb{3 - major}.yaml" not in names  # same uid: only one
        assert "dashboards/provisioning/dashboards/commune-monitor.yaml" in names


def test_the_copied_dashboards_are_the_generated_ones_at_the_providers_path() -> None:
    v = _defaults()
    src = Path(v["grafana_dashboards_src"]).resolve()
    assert src == REPO / "dashboards" / "json"
    assert sorted(src.glob("*.json")) and all(p.suffix == ".json" for p in src.iterdir())
    provider = yaml.safe_load((REPO / "dashboards" / "provisioning" / "dashboards" / "commune-monitor.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == v["grafana_dashboards_dir"]
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert spec["grafana_dashboards_src"]["default"] == yaml.safe_load(
        (ROLE / "defaults" / "main.yml").read_text())["grafana_dashboards_src"]


def test_every_variable_the_provisioning_expands_is_set_by_the_role() -> None:
    needed = set()
    for f in (REPO / "dashboards" / "provisioning").rglob("*.yaml"):
        needed |= set(re.findall(r"\$\{(\w+)\}", f.read_text()))
    env_file = (ROLE / "templates" / "commune-monitor.env.j2").read_text()
    assert needed and needed <= set(re.findall(r"^(\w+)=", env_file, re.M))
    tasks = (ROLE / "tasks" / "configure.yml").read_text()
    assert "EnvironmentFile=/etc/grafana/commune-monitor.env" in tasks and "commune-monitor.env.j2" in tasks
