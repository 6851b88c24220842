"""The alertmanager.yml generator: amtool accepts what it writes for several inventories; routing does what
the contract says (checked with ``amtool config routes test``); invalid contacts files fail clearly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from collector.alerts import amconfig
from collector.alerts.contacts import load_contacts, parse_contacts
from collector.config import load_inventory, parse_inventory
from collector.errors import ConfigError
from devstack.services import find_binary
from tests.support.alerts_env import commune_codes, write_config
from tests.support.paths import INVALID, REPO
from tests.support.services import need_binary

INVALID_CONTACTS = sorted(INVALID.glob("contacts-*.yaml"))


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    need_binary("amtool")
    return subprocess.run([find_binary("amtool"), *args], capture_output=True, text=True, timeout=60, check=False)


def _route(conf: Path, **labels: str) -> list[str]:
    res = _amtool("config", "routes", "test", f"--config.file={conf}", *(f"{k}={v}" for k, v in labels.items()))
    assert res.returncode == 0, res.stderr
    return sorted(res.stdout.strip().split(","))


@pytest.mark.parametrize("n", [1, 5, 148])
def test_amtool_accepts_generated_configs(tmp_path: Path, n: int) -> None:
    conf = write_config(tmp_path, commune_codes(n), smtp_port=2525, telegram_url="http://127.0.0.1:1",
                        zalo_url="http://127.0.0.1:2/alertmanager")
    res = _amtool("check-config", str(conf))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{n + 1} receivers" in res.stdout and "1 inhibit rules" in res.stdout and "1 templates" in res.stdout
    assert (conf.stat().st_mode & 0o777) == 0o600, "the file holds the bot token"


def test_default_contacts_and_fleet_generate_a_valid_config(tmp_path: Path) -> None:
    contacts = load_contacts(REPO / "collector/defaults/contacts.yaml")
    inventory = load_inventory(REPO / "collector/defaults/fleet.yaml")
    gen = amconfig.generate(inventory, contacts, templates=str(amconfig.TEMPLATE_FILE), telegram_token="1:x")
    assert gen.warnings == []
    (tmp_path / "am.yml").write_text(gen.yaml(), encoding="utf-8")
    res = _amtool("check-config", str(tmp_path / "am.yml"))
    assert res.returncode == 0, res.stdout + res.stderr
    rx = gen.config["receivers"][1]
    assert rx["name"] == "commune-07900"
    assert rx["webhook_configs"][0]["url"] == "http://127.0.0.1:9095/alertmanager?to=5123456789012345678"


def test_routing_follows_the_contract(tmp_path: Path) -> None:
    conf = write_config(tmp_path, ["07900", "08515"], smtp_port=2525)
    base = {"alertname": "AgentOffline", "commune": "07900", "site": "s"}
    assert _route(conf, **base, kind="alert", severity="warning") == ["commune-07900"]
    assert _route(conf, **base, kind="alert", severity="critical") == ["commune-07900", "province"]
    assert _route(conf, **base, kind="alert", severity="warning", escalated="true") == ["commune-07900", "province"]
    assert _route(conf, alertname="PortalIncident", kind="incident", severity="critical",
                  incident_id="portal:x") == ["province"]
    assert _route(conf, alertname="SiteLinkDown", commune="08515", kind="incident", severity="warning",
                  incident_id="sitelink:08515/s") == ["commune-08515"]
    # a commune in the fleet without contacts of its own: the province receives its alerts
    assert _route(conf, alertname="AgentOffline", commune="07894", kind="alert", severity="warning") == ["province"]
    inhibit = yaml.safe_load(conf.read_text(encoding="utf-8"))["inhibit_rules"]
    assert inhibit == [{"source_matchers": ['kind="incident"'], "target_matchers": ['kind="symptom"'],
                        "equal": ["incident_id"]}]


def test_communes_in_the_fleet_without_contacts_are_reported() -> None:
    inv = parse_inventory({"agents": {"pc-1": {"commune": "07894"}}}, "fleet.yaml")
    contacts = parse_contacts({"province": {"telegram_chat_ids": [-1]}, "telegram": {"bot_token_file": "t"}},
                              "contacts.yaml")
    gen = amconfig.generate(inv, contacts, telegram_token="1:x")
    assert gen.warnings == ["fleet.yaml: commune 07894 (Phường Nông Trang) has agents but no contacts in "
                            "contacts.yaml: its alerts go to the provincial team"]


def test_unreadable_bot_token_names_the_field(tmp_path: Path) -> None:
    contacts = parse_contacts({"province": {"telegram_chat_ids": [-1]},
                               "telegram": {"bot_token_file": str(tmp_path / "missing")}}, "contacts.yaml")
    with pytest.raises(ConfigError, match=r"^contacts.yaml: telegram.bot_token_file: cannot read .*missing"):
        amconfig.read_bot_token(contacts)


@pytest.mark.parametrize("path", INVALID_CONTACTS, ids=lambda p: p.name)
def test_invalid_contacts(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    expected = path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# error: ")
    rel = path.relative_to(REPO)
    with pytest.raises(ConfigError) as err:
        load_contacts(rel)
    assert str(err.value) == expected
