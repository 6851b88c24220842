"""The Windows agent package (scripts/build_windows_agent.py), built here without the two files that must come
from outside the package index (the embeddable Python and WinSW). Windows itself is untested here: this checks
the zipapp runs (on Linux), the WinSW service config and the install scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_package_has_a_runnable_zipapp_a_restarting_service_and_install_scripts(tmp_path: Path) -> None:
    out = tmp_path / "commune-agent-windows.zip"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_windows_agent.py"), "--no-wheels", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert {"commune-agent.pyz", "commune-agent-service.xml", "install.ps1", "uninstall.ps1"} <= names
        z.extractall(tmp_path / "pkg")
    svc = ET.parse(tmp_path / "pkg" / "commune-agent-service.xml").getroot()
    assert svc.findtext("id") == "CommuneMonitorAgent" and svc.findtext("startmode") == "Automatic"
    assert [e.get("action") for e in svc.findall("onfailure")] == ["restart"] * 3
    assert svc.find("log") is not None and svc.find("log").get("mode") == "roll-by-size"  # type: ignore[union-attr]
    assert "commune-agent.pyz\" run -c" in (svc.findtext("arguments") or "")
    install = (tmp_path / "pkg" / "install.ps1").read_text(encoding="utf-8-sig")
    assert "validate -c" in install and "icacls" in install and "install" in install
    assert "uninstall" in (tmp_path / "pkg" / "uninstall.ps1").read_text(encoding="utf-8-sig")

    # an enrolled bundle validates with the zipapp (dependencies from this venv, as lib\ gives them on Windows)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("agents: {}\n")
    e = subprocess.run([str(BIN / "commune-collector"), "enroll", "pc-win-01", "--commune", "07900", "--new-inventory",
                        "--inventory", fleet, "--passwd", tmp_path / "passwd", "--out-dir", tmp_path / "enrolled",
                        "--mqtt-host", "mqtt.phutho.example"], capture_output=True, text=True, timeout=60)
    assert e.returncode == 0, e.stderr
    cfg = tmp_path / "enrolled" / "pc-win-01" / "agent.yaml"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    v = subprocess.run([sys.executable, "-I", str(tmp_path / "pkg" / "commune-agent.pyz"), "validate", "-c", str(cfg)],
                       capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert v.returncode == 0, v.stderr
    assert v.stdout.strip() == f"{cfg}: ok (3 probes: host, ping, http)"
    assert yaml.safe_load(cfg.read_text())["mqtt"]["password_file"] == "agent.password"
