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


def test_enroll_writes_inventory_password_acl_and_a_valid_agent_config(tmp_path: Path) -> None:
    inv, pw, acl, out = tmp_path / "fleet.yaml", tmp_path / "passwd", tmp_path / "acl", tmp_path / "enrolled"
    inv.write_text(yaml.safe_dump({"agents": {"pc-old": {"commune": "07900"}}}))
    r = run("commune-collector", "enroll", "pc-new", "--commune", "7900", "--site", "diem-2", "--name", "Máy một cửa",
            "--inventory", inv, "--passwd", pw, "--acl", acl, "--out-dir", out, "--mqtt-port", "8883",
            "--ca-file", "/etc/cm/ca.pem")
    assert r.returncode == 0, r.stderr
    assert f"enrolled pc-new: config {out / 'pc-new.yaml'} (password in {out / 'pc-new.password'})" in r.stdout
    assert f"ACL regenerated: {acl}" in r.stdout and "kill -HUP" in r.stdout
    assert yaml.safe_load(inv.read_text())["agents"] == {
        "pc-old": {"commune": "07900"}, "pc-new": {"commune": "7900", "site": "diem-2", "name": "Máy một cửa"}}
    password = (out / "pc-new.password").read_text().strip()
    assert len(password) >= 24 and (out / "pc-new.password").stat().st_mode & 0o777 == 0o600
    users = dict(line.split(":", 1) for line in pw.read_text().splitlines())
    assert set(users) == {"pc-new"} and verify_password(password, users["pc-new"])
    acl_text = acl.read_text()
    assert "user pc-new\ntopic write cm/v1/pc-new/metrics\ntopic readwrite cm/v1/pc-new/status\n" \
           "topic read cm/v1/pc-new/ack" in acl_text and "user pc-old" in acl_text
    agent_cfg = yaml.safe_load((out / "pc-new.yaml").read_text())
    assert agent_cfg["agent"] == {"id": "pc-new"}
    assert agent_cfg["mqtt"] == {"host": "127.0.0.1", "port": 8883, "password_file": str(out / "pc-new.password"),
                                 "tls": {"ca_file": "/etc/cm/ca.pem"}}
    v = run("commune-agent", "validate", "-c", out / "pc-new.yaml")
    assert v.returncode == 0 and v.stdout.strip() == f"{out / 'pc-new.yaml'}: ok (2 probes: host, ping)"


def test_enroll_refuses_an_unknown_commune_and_writes_nothing(tmp_path: Path) -> None:
    inv, pw = tmp_path / "fleet.yaml", tmp_path / "passwd"
    r = run("commune-collector", "enroll", "pc-new", "--commune", "99999", "--inventory", inv, "--passwd", pw,
            "--out-dir", tmp_path / "out")
    assert r.returncode == 2
    assert r.stderr.strip() == (f"error: {inv}: agents.pc-new.commune: commune code '99999' is not a commune of "
                                "province 25 (Phú Thọ)")
    assert not inv.exists() and not pw.exists() and not (tmp_path / "out").exists()


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
