"""The local stack and a second one (or anything else) on the same ports: nothing starts, the holder is named,
the readiness check only counts our own process, and status/down tell that the ports are held elsewhere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import services as stack
from devstack.errors import StackError
from tests.support.services import need_binary, start_mosquitto

REPO = Path(__file__).resolve().parents[2]
DEV = [sys.executable, "-m", "devstack"]


def _ports() -> dict[str, int]:
    return {k: stack.free_port() for k in ("mqtt", "influx", "influx_rpc", "alertmanager", "collector_metrics", "smtp")}


def _port_args(ports: dict[str, int]) -> list[str]:
    return [a for k in ("mqtt", "influx", "alertmanager", "smtp") for a in (f"--{k}-port", str(ports[k]))]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CM_STATE_DIR"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


@pytest.mark.integration
def test_a_taken_port_stops_the_stack_before_anything_starts(tmp_path: Path) -> None:
    need_binary("mosquitto")
    other, port = start_mosquitto(tmp_path / "other-broker")
    try:
        ports = {**_ports(), "mqtt": port}
        out = _run([*DEV, "up", "--state-dir", str(tmp_path / "second"), *_port_args(ports)], tmp_path)
        assert out.returncode == 2, out
        assert f"mosquitto: port {port} is in use by mosquitto (pid {other.pid()})" in out.stderr
        assert "started" not in out.stdout
        assert not any(pid for _, pid in stack.LocalStack(tmp_path / "second", ports).status())
        # status and down from that state folder do not claim all is quiet while the port is held
        for action in ("status", "down"):
            res = _run([*DEV, action, "--state-dir", str(tmp_path / "second"), *_port_args(ports)], tmp_path)
            assert res.returncode == 4, res
            assert f"port {port} is in use by mosquitto (pid {other.pid()})" in res.stderr
    finally:
        stack.LocalStack(tmp_path / "second", ports).down(log=lambda _: None)  # whatever it may have started
        other.stop()


def test_readiness_answered_by_another_process_is_not_ours(tmp_path: Path) -> None:
    """The check (a TCP connect) is answered by someone else's listener; our process never listens on its port."""
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        svc = stack.Service("idle", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path,
                            stack.tcp_ready(foreign.getsockname()[1]), ready_timeout=2.0, ports=(stack.free_port(),))
        with pytest.raises(StackError, match="did not become ready"):
            svc.start()
    assert svc.pid() is None


def test_collector_names_the_port_in_use_instead_of_a_torn_down_loop(tmp_path: Path) -> None:
    ports = _ports()
    collector_cfg, _ = stack.LocalStack(tmp_path / "state", ports).write_configs()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["collector_metrics"]))
        taken.listen()
        out = _run([sys.executable, "-m", "collector.cli", "run", "-c", str(collector_cfg),
                    "--state-dir", str(tmp_path / "c")], tmp_path)
    assert out.returncode == 2
    assert f"metrics_listen 127.0.0.1:{ports['collector_metrics']}: cannot listen: [Errno 98]" in out.stderr
    assert "Event loop is closed" not in out.stderr


def test_each_stack_has_its_own_collector_client_id(tmp_path: Path) -> None:
    import yaml

    ids = set()
    for name in ("one", "two"):
        cfg, _ = stack.LocalStack(tmp_path / name, _ports()).write_configs()
        ids.add(yaml.safe_load(cfg.read_text())["mqtt"]["client_id"])
    assert len(ids) == 2 and all(i.startswith("commune-collector-") for i in ids)


def test_the_state_folder_is_the_checkout_s_from_any_directory(tmp_path: Path) -> None:
    out = _run([sys.executable, "-c", "import devstack.__main__ as m; print(m.STATE)"], tmp_path)
    assert out.stdout.strip() == str(REPO / "state")


def test_port_options_have_help_and_defaults(tmp_path: Path) -> None:
    helptext = " ".join(_run([*DEV, "--help"], tmp_path).stdout.split())
    for option, default in (("--mqtt-port", 18830), ("--influx-port", 18086), ("--alertmanager-port", 19093),
                            ("--smtp-port", 19825)):
        assert f"{option} PORT 127.0.0.1 port of" in helptext
        assert f"(default: {default})" in helptext
