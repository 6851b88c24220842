"""The alerting subcommands of ``commune-collector`` against a real Alertmanager: maintenance windows,
acknowledgements (by labels and by fingerprint), the silence list, the generated config, the Zalo settings."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.alertmanager import AM, start_alertmanager
from tests.support.alerts_env import alert, post

CLI = [sys.executable, "-m", "collector.cli"]


@pytest.fixture
def am(tmp_path: Path) -> Iterator[AM]:
    a = start_alertmanager(tmp_path / "am", "route:\n  receiver: x\nreceivers:\n  - name: x\n")
    yield a
    a.service.stop()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def _config(tmp_path: Path, am: AM) -> Path:
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"agents": {"pc-01": {"commune": "07900", "site": "tru-so-chinh"}}}))
    (tmp_path / "collector.yaml").write_text(yaml.safe_dump({"inventory": "fleet.yaml", "alerts": {
        "enabled": True, "alertmanager_urls": [am.url]}}))
    return tmp_path / "collector.yaml"


def test_maintenance_ack_and_silences(tmp_path: Path, am: AM) -> None:
    cfg = str(_config(tmp_path, am))
    out = _cli("maintenance", "-c", cfg, "--commune", "07900", "--site", "tru-so-chinh", "--duration", "90m",
               "--reason", "thay modem")
    assert out.returncode == 0, out.stderr
    assert "maintenance silence" in out.stdout
    assert post([am.url], [alert("DiskFull", "07894", agent="pc-02")]) == {am.url: True}
    held = subprocess.run([*CLI, "silences", "-c", cfg], capture_output=True, text=True, timeout=60).stdout
    assert "commune='07900'" in held and "Bảo trì 07900/tru-so-chinh: thay modem" in held
    from tests.support.alerts_env import held_alerts
    fp = held_alerts(am.url, ['alertname="DiskFull"'])[0]["fingerprint"]
    out = _cli("ack", "-c", cfg, fp, "--duration", "1h", "--by", "tester")
    assert out.returncode == 0, out.stderr
    assert "alertname=DiskFull" in out.stdout and "agent=pc-02" in out.stdout
    out = _cli("ack", "-c", cfg, "alertname=PortalDown", "commune=07900")
    assert out.returncode == 0, out.stderr
    listed = _cli("silences", "-c", cfg).stdout
    assert listed.count("active") == 3 and "agent='pc-02'" in listed


def test_bad_input_is_a_clear_error(tmp_path: Path, am: AM) -> None:
    cfg = str(_config(tmp_path, am))
    out = _cli("maintenance", "-c", cfg, "--commune", "99999")
    assert out.returncode == 2 and "99999" in out.stderr
    out = _cli("ack", "-c", cfg, "deadbeefdeadbeef")
    assert out.returncode == 2 and "no alert with fingerprint" in out.stderr
    out = _cli("maintenance", "-c", cfg, "--commune", "07900", "--duration", "soon")
    assert out.returncode == 2 and "duration" in out.stderr
    out = _cli("silences", "-c", cfg, "--alertmanager", "http://127.0.0.1:9")
    assert out.returncode == 3 and "failed on every Alertmanager" in out.stderr


def test_alertmanager_config_is_written_from_inventory_and_contacts(tmp_path: Path, am: AM) -> None:
    cfg = str(_config(tmp_path, am))
    (tmp_path / "contacts.yaml").write_text(yaml.safe_dump({
        "province": {"email": ["tinh@test.vn"]}, "communes": {"07900": {"email": ["cntt@test.vn"]}},
        "smtp": {"smarthost": "127.0.0.1:25", "from": "gs@test.vn", "require_tls": False}}))
    out = _cli("alertmanager-config", "-c", cfg, "--contacts", str(tmp_path / "contacts.yaml"),
               "--out-dir", str(tmp_path / "gen"))
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "gen" / "alertmanager.yml").read_text(encoding="utf-8")
    assert "cntt@test.vn" in text and (tmp_path / "gen" / "commune-monitor.tmpl").exists()


def test_zalo_adapter_settings_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "zalo-adapter.yaml"
    path.write_text(yaml.safe_dump({"app_id": "1", "secret_key_file": "secret", "token_file": "tokens.json",
                                    "listen": "127.0.0.1:9095", "colour": "blue"}))
    out = _cli("zalo-adapter", "--settings", str(path))
    assert out.returncode == 2 and "colour" in out.stderr
    path.write_text(yaml.safe_dump({"app_id": "1", "secret_key_file": "missing", "token_file": "tokens.json"}))
    out = _cli("zalo-adapter", "--settings", str(path))
    assert out.returncode == 2 and "secret_key_file" in out.stderr


def test_validate_checks_the_alert_rules_too(tmp_path: Path, am: AM) -> None:
    cfg = _config(tmp_path, am)
    out = _cli("validate", "-c", str(cfg))
    assert out.returncode == 0 and "alert rules" in out.stdout
    data = yaml.safe_load(cfg.read_text())
    data["alerts"]["rules"] = "rules.yaml"
    cfg.write_text(yaml.safe_dump(data))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"rules": [
        {"name": "AgentOffline", "measurement": "agent", "absent": "soon", "summary": "x", "description": "y"}]}))
    out = _cli("validate", "-c", str(cfg))
    assert out.returncode == 2 and "rules.yaml" in out.stderr and "absent" in out.stderr


def test_enroll_records_role_and_isp(tmp_path: Path) -> None:
    inv = tmp_path / "fleet.yaml"
    out = _cli("enroll", "gw-viettri", "--commune", "07900", "--site", "tru-so-chinh", "--role", "gateway",
               "--isp", "vnpt", "--inventory", str(inv), "--new-inventory", "--passwd", str(tmp_path / "passwd"),
               "--out-dir", str(tmp_path / "enrolled"), "--mqtt-host", "127.0.0.1")
    assert out.returncode == 0, out.stderr
    from collector.config import load_inventory
    ident = load_inventory(inv).agents["gw-viettri"]
    assert (ident.role, ident.isp) == ("gateway", "vnpt")
    out = _cli("enroll", "gw-2", "--commune", "07900", "--role", "router", "--inventory", str(inv),
               "--passwd", str(tmp_path / "passwd"), "--out-dir", str(tmp_path / "enrolled"), "--mqtt-host", "127.0.0.1")
    assert out.returncode == 2 and "router" in out.stderr
