"""``commune-collector`` commands run as commands (the installed console script), with their files and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from collector.broker import verify_password

BIN = Path(sys.executable).parent


def run(tool: str, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_broker_files_prunes_stale_users_and_sets_the_collector_password(tmp_path: Path) -> None:
    inv, pw, acl, cpw = tmp_path / "fleet.yaml", tmp_path / "passwd", tmp_path / "acl", tmp_path / "collector.pw"
    inv.write_text(yaml.safe_dump({"agents": {"pc-keep": {"commune": "07900"}}}))
    pw.write_text("pc-keep:$7$101$aaaa$bbbb\npc-gone:$7$101$cccc$dddd\n")
    cpw.write_text("collector-secret\n")
    r = run("commune-collector", "broker-files", "--inventory", inv, "--passwd", pw, "--acl", acl,
            "--collector-password-file", cpw)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"ACL written to {acl}; removed stale users: pc-gone"
    users = dict(line.split(":", 1) for line in pw.read_text().splitlines())
    assert set(users) == {"pc-keep", "collector"} and users["pc-keep"] == "$7$101$aaaa$bbbb"
    assert verify_password("collector-secret", users["collector"])
    text = acl.read_text()
    assert "user collector\ntopic read cm/v1/+/metrics" in text and "user pc-keep" in text and "pc-gone" not in text


def test_validate_names_the_file_and_the_field(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"agents": {"pc-1": {"commune": "07900"},
                                                                    "pc-2": {"commune": "05089"}}}))
    good = tmp_path / "collector.yaml"
    good.write_text(yaml.safe_dump({"inventory": "fleet.yaml"}))
    r = run("commune-collector", "validate", "-c", good)
    assert r.returncode == 0 and r.stdout.strip() == f"{good}: ok (2 agents in {tmp_path / 'fleet.yaml'})"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"inventory": "fleet.yaml", "mqtt": {"port": "x"}}))
    r = run("commune-collector", "validate", "-c", bad)
    assert r.returncode == 2 and r.stderr.strip() == f"error: {bad}: mqtt.port: Expected `int`, got `str`"
