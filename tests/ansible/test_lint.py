"""ansible-lint (production profile) and ansible-playbook --syntax-check on every playbook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOKS = [*sorted(ANSIBLE.glob("*.yml")), ROOT / "tests" / "ansible" / "converge.yml"]


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"),
            "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": "/tmp/.ansible-local"}


def test_ansible_lint_production_profile_passes() -> None:
    r = subprocess.run([str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--format", "pep8"],
                       cwd=ANSIBLE, capture_output=True, text=True, timeout=300, env=env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Profile 'production' was required, and it passed" in r.stderr


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=[p.name for p in PLAYBOOKS])
def test_playbook_syntax(playbook: Path) -> None:
    r = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(ANSIBLE / "inventories" / "phutho"),
                        str(playbook)], cwd=ANSIBLE, capture_output=True, text=True, timeout=120, env=env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"playbook: {playbook}" in r.stdout or f"playbook: {playbook.name}" in r.stdout


def test_every_role_documents_every_default_in_its_argument_spec() -> None:
    import yaml

    roles = sorted(p for p in (ANSIBLE / "roles").iterdir() if p.is_dir())
    assert {r.name for r in roles} == {"alertmanager", "commune_agent", "commune_collector", "grafana", "influxdb",
                                       "mosquitto"}
    for role in roles:
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
        spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
        assert set(defaults) == set(spec), role.name
        assert all(k.startswith(role.name + "_") for k in defaults), role.name
        assert all(o.get("description") for o in spec.values()), role.name
        tasks = yaml.safe_load((role / "tasks" / "main.yml").read_text())
        assert [t["name"] for t in tasks if t["name"] in ("Preflight", "Install", "Configure", "Service")] == [
            "Preflight", "Install", "Configure", "Service"], role.name
