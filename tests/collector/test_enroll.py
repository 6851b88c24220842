"""``commune-collector communes / enroll / enroll-bulk / ansible-inventory / broker-conf`` run as commands."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from collector.broker import verify_password
from tests.support.pki import TestCA

BIN = Path(sys.executable).parent


def run(tool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True, timeout=60)


def enrol_args(d: Path, *extra: str | Path) -> list[str | Path]:
    return ["--inventory", d / "fleet.yaml", "--passwd", d / "passwd", "--acl", d / "acl", "--out-dir", d / "out",
            "--mqtt-host", "mqtt.phutho.example", *extra]


def users(pw: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in pw.read_text().splitlines())


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"agents": {"pc-old": {"commune": "07900"}}}))
    return tmp_path


def test_communes_searches_names_without_diacritics_and_codes_without_leading_zero() -> None:
    r = run("commune-collector", "communes", "viet tri")
    assert r.returncode == 0 and "07900  Phường Việt Trì" in r.stdout.splitlines()
    assert all("Việt Trì" in line for line in r.stdout.splitlines())
    r = run("commune-collector", "communes", "8542")
    assert r.returncode == 0 and r.stdout.startswith("08542  ") and len(r.stdout.splitlines()) == 1
    every = run("commune-collector", "communes")
    assert every.returncode == 0 and len(every.stdout.splitlines()) == 148
    none = run("commune-collector", "communes", "khong co xa nay")
    assert none.returncode == 1 and none.stdout == "" and "no commune matches" in none.stderr


def test_enroll_writes_a_bundle_with_relative_paths_tls_and_ping_targets(fleet: Path) -> None:
    ca = TestCA(fleet / "pki")
    r = run("commune-collector", "enroll", "pc-new", "--commune", "8542", "--site", "diem-2", "--name", "Máy một cửa",
            "--role", "gateway", *enrol_args(fleet, "--ca-file", ca.ca_file))
    assert r.returncode == 0, r.stderr
    bundle = fleet / "out" / "pc-new"
    assert f"enrolled pc-new: bundle {bundle}" in r.stdout and "ACL regenerated" in r.stdout
    assert sorted(p.name for p in bundle.iterdir()) == ["agent.password", "agent.yaml", "ca.pem"]
    assert (bundle / "ca.pem").read_bytes() == ca.ca_file.read_bytes()
    assert yaml.safe_load((fleet / "fleet.yaml").read_text())["agents"] == {
        "pc-old": {"commune": "07900"},
        "pc-new": {"commune": "08542", "site": "diem-2", "name": "Máy một cửa", "role": "gateway"}}
    password = (bundle / "agent.password").read_text().strip()
    assert len(password) >= 24 and (bundle / "agent.password").stat().st_mode & 0o777 == 0o600
    assert set(users(fleet / "passwd")) == {"pc-new"} and verify_password(password, users(fleet / "passwd")["pc-new"])
    assert "user pc-new\ntopic write cm/v1/pc-new/metrics" in (fleet / "acl").read_text()
    cfg = yaml.safe_load((bundle / "agent.yaml").read_text())
    assert cfg["mqtt"] == {"host": "mqtt.phutho.example", "port": 8883, "password_file": "agent.password",
                           "tls": {"ca_file": "ca.pem"}}
    ping = cfg["probes"]["ping"]
    assert ping["gateway"] is True
    assert {"host": "dichvucong.gov.vn", "name": "dvc-quoc-gia", "role": "public"} in ping["targets"]
    assert {"host": "dichvucong.phutho.gov.vn", "name": "dvc-phutho", "role": "datacentre"} in ping["targets"]
    assert cfg["probes"]["http"]["catalogue"] == "phutho"
    # the bundle works from anywhere: the agent resolves its files next to its config
    moved = fleet / "elsewhere" / "CommuneMonitor"
    moved.parent.mkdir()
    bundle.rename(moved)
    v = run("commune-agent", "validate", "-c", moved / "agent.yaml")
    assert v.returncode == 0 and v.stdout.strip() == f"{moved / 'agent.yaml'}: ok (3 probes: host, ping, http)"
    from agent.config import load_config, mqtt_password

    assert mqtt_password(load_config(moved / "agent.yaml")) == password


def test_enroll_without_a_ca_still_uses_tls_with_the_system_cas(fleet: Path) -> None:
    r = run("commune-collector", "enroll", "pc-new", "--commune", "07900", *enrol_args(fleet))
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load((fleet / "out" / "pc-new" / "agent.yaml").read_text())
    assert cfg["mqtt"]["tls"] == {} and not (fleet / "out" / "pc-new" / "ca.pem").exists()


def test_re_enrolling_an_existing_id_is_refused_unless_rotate_or_move(fleet: Path) -> None:
    assert run("commune-collector", "enroll", "pc-a", "--commune", "07900", *enrol_args(fleet)).returncode == 0
    first = users(fleet / "passwd")["pc-a"]
    before = (fleet / "fleet.yaml").read_text()
    same = run("commune-collector", "enroll", "pc-a", "--commune", "07900", *enrol_args(fleet))
    assert same.returncode == 2 and "pc-a is already enrolled (commune 07900, site main); pass --rotate-password" \
        in same.stderr and "Traceback" not in same.stderr
    moved = run("commune-collector", "enroll", "pc-a", "--commune", "08542", "--site", "x", *enrol_args(fleet))
    assert moved.returncode == 2 and "already enrolled in commune 07900 site main; pass --move" in moved.stderr
    assert (fleet / "fleet.yaml").read_text() == before and users(fleet / "passwd")["pc-a"] == first

    rot = run("commune-collector", "enroll", "pc-a", "--commune", "07900", "--rotate-password", *enrol_args(fleet))
    assert rot.returncode == 0, rot.stderr
    new_pw = (fleet / "out" / "pc-a" / "agent.password").read_text().strip()
    assert users(fleet / "passwd")["pc-a"] != first and verify_password(new_pw, users(fleet / "passwd")["pc-a"])

    mv = run("commune-collector", "enroll", "pc-a", "--commune", "08542", "--site", "x", "--move", *enrol_args(fleet))
    assert mv.returncode == 0 and "(password unchanged)" in mv.stdout
    assert verify_password(new_pw, users(fleet / "passwd")["pc-a"])
    assert yaml.safe_load((fleet / "fleet.yaml").read_text())["agents"]["pc-a"] == {"commune": "08542", "site": "x"}


def test_enroll_with_a_missing_inventory_or_bad_commune_errors_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    r = run("commune-collector", "enroll", "pc-new", "--commune", "07900", *enrol_args(tmp_path / "nope"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (f"error: {tmp_path / 'nope' / 'fleet.yaml'}: fleet inventory does not exist (check "
                                "the path, or pass --new-inventory to start an empty one)")
    assert not (tmp_path / "nope").exists()
    (tmp_path / "fleet.yaml").write_text("agents: {}\n")
    bad = run("commune-collector", "enroll", "pc-new", "--commune", "99999", *enrol_args(tmp_path))
    assert bad.returncode == 2 and "commune code '99999' is not a commune of province 25" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.yaml"]
    new = run("commune-collector", "enroll", "pc-new", "--commune", "07900", "--new-inventory",
              *enrol_args(tmp_path / "fresh"))
    assert new.returncode == 0, new.stderr
    assert list(yaml.safe_load((tmp_path / "fresh" / "fleet.yaml").read_text())["agents"]) == ["pc-new"]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def test_bulk_enrolment_is_all_or_nothing_and_names_every_bad_row(fleet: Path) -> None:
    sheet = write_csv(fleet / "may.csv", [
        ["Mã xã", "Điểm", "Tên máy", "Vai trò"],
        ["8542", "Trụ sở chính", "Một cửa 1", "gateway"],
        ["99999", "main", "PC 2", ""],
        ["07900", "main", "", ""],
        ["7900", "Điểm 2", "Kế toán", "pc"],
        ["07900", "Điểm 2", "Kế toán", "pc"],
    ])
    r = run("commune-collector", "enroll-bulk", sheet, *enrol_args(fleet))
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "error: 3 of 5 rows refused, nothing enrolled:",
        "  may.csv: row 3: commune code '99999' is not a commune of province 25 (see: commune-collector communes)",
        "  may.csv: row 4: empty name",
        "  may.csv: row 6: agent id '07900-diem-2-ke-toan' appears twice"]
    assert not (fleet / "out").exists() and not (fleet / "passwd").exists()
    write_csv(sheet, [["commune", "site", "name", "role"], ["8542", "Trụ sở chính", "Một cửa 1", "gateway"],
                      ["99999", "main", "PC 2", ""], ["7900", "Điểm 2", "Kế toán", "pc"],
                      ["07900", "Điểm 2", "Kế toán", ""], ["07900", "main", "x", ""]])
    (fleet / "fleet.yaml").write_text(yaml.safe_dump({"agents": {"07900-main-x": {"commune": "07900"}}}))
    r = run("commune-collector", "enroll-bulk", sheet, *enrol_args(fleet))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0] == "error: 3 of 5 rows refused, nothing enrolled:"
    assert any(ln.strip().startswith("may.csv: row 3: commune code '99999'") for ln in lines)
    assert any(ln.strip() == "may.csv: row 5: agent id '07900-diem-2-ke-toan' appears twice" for ln in lines)
    assert any(ln.strip().startswith("may.csv: row 6: 07900-main-x is already enrolled") for ln in lines)
    assert not (fleet / "out").exists() and not (fleet / "passwd").exists()


def test_bulk_enrolment_from_xlsx_then_ansible_inventory(fleet: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in (["commune", "site", "name", "role"], [8542, "Trụ sở chính", "Một cửa 1", "gateway"],
                ["08542", "Điểm 2", "Một cửa 2", "pc"], ["07900", "", "Văn thư", ""]):
        ws.append(row)
    wb.save(fleet / "may.xlsx")
    r = run("commune-collector", "enroll-bulk", fleet / "may.xlsx", *enrol_args(fleet))
    assert r.returncode == 0, r.stderr
    ids = ["08542-tru-so-chinh-mot-cua-1", "08542-diem-2-mot-cua-2", "07900-main-van-thu"]
    assert "3 enrolled" in r.stdout and all(f"enrolled {i}: bundle" in r.stdout for i in ids)
    assert set(users(fleet / "passwd")) == set(ids)
    assert all((fleet / "out" / i / "agent.yaml").exists() for i in ids)

    out = fleet / "hosts.yml"
    r = run("commune-collector", "ansible-inventory", "--inventory", fleet / "fleet.yaml", "-o", out)
    assert r.returncode == 0, r.stderr
    inv = yaml.safe_load(out.read_text())["all"]["children"]["commune_agents"]["children"]
    assert set(inv) == {"commune_07900", "commune_08542"}
    c = inv["commune_08542"]
    assert c["vars"]["commune_agent_commune"] == "08542"
    assert set(c["children"]) == {"commune_08542_tru_so_chinh", "commune_08542_diem_2"}
    assert c["children"]["commune_08542_diem_2"]["hosts"] == {
        "08542-diem-2-mot-cua-2": {"commune_agent_id": "08542-diem-2-mot-cua-2", "commune_agent_name": "Một cửa 2",
                                   "commune_agent_role": "pc"}}
    assert set(inv["commune_07900"]["children"]["commune_07900_main"]["hosts"]) == {"07900-main-van-thu", "pc-old"}
    listed = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(out), "--graph", "commune_08542"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "08542-tru-so-chinh-mot-cua-1" in listed.stdout and "07900-main-van-thu" not in listed.stdout


def test_broker_conf_prints_the_tls_listener(tmp_path: Path) -> None:
    r = run("commune-collector", "broker-conf", "--passwd", "/etc/mosquitto/cm.passwd", "--acl", "/etc/mosquitto/cm.acl",
            "--cafile", "/etc/mosquitto/ca.pem", "--certfile", "/etc/mosquitto/s.pem", "--keyfile", "/etc/mosquitto/s.key")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["listener 8883 0.0.0.0", "allow_anonymous false"]
    assert "certfile /etc/mosquitto/s.pem" in r.stdout and "tls_version tlsv1.2" in r.stdout
    half = run("commune-collector", "broker-conf", "--passwd", "p", "--acl", "a", "--certfile", "c")
    assert half.returncode == 2 and "give both --certfile and --keyfile" in half.stderr
