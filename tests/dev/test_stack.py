"""The local stack (README command 1, ``python -m devstack``) on free ports in a temp folder: up, idempotent up,
status, down; and ``commune-collector`` no longer carries it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack import services as stack
from devstack.errors import StackError
from tests.support.services import need_binary, wait_for


def test_missing_binary_is_a_clear_message() -> None:
    with pytest.raises(StackError, match=r"no-such-server is not installed: run scripts/bootstrap.sh"):
        stack.find_binary("no-such-server")


@pytest.mark.integration
def test_stack_up_status_down(tmp_path: Path) -> None:
    for b in ("mosquitto", "influxd", "prometheus-alertmanager"):
        need_binary(b)
    ports = {"mqtt": stack.free_port(), "influx": stack.free_port(), "influx_rpc": stack.free_port(),
             "alertmanager": stack.free_port(), "collector_metrics": stack.free_port(), "smtp": stack.free_port()}
    local = stack.LocalStack(tmp_path / "state", ports)
    cli = [sys.executable, "-m", "collector.cli"]
    dev = [sys.executable, "-m", "devstack"]
    port_args = ["--mqtt-port", str(ports["mqtt"]), "--influx-port", str(ports["influx"]),
                 "--alertmanager-port", str(ports["alertmanager"]), "--smtp-port", str(ports["smtp"])]
    env_state = ["--state-dir", str(tmp_path / "state")]
    started = time.time()
    try:
        local.up(log=lambda _: None)
        first = dict(local.status())
        assert all(first.values()), first
        local.up(log=lambda _: None)  # idempotent: nothing restarted
        assert dict(local.status()) == first
        # the agent's data reaches InfluxDB and `status` shows it with the commune's name
        cfg = tmp_path / "state" / "stack" / "collector.yaml"

        def reported() -> str | None:
            out = subprocess.run([*cli, "status", "-c", str(cfg)], capture_output=True, text=True, timeout=60)
            return out.stdout if out.returncode == 0 else None

        out = wait_for(reported, 90, 1.0, what="the local agent in commune-collector status")
        assert "local-agent" in out and "Phường Việt Trì" in out
        st = subprocess.run([*dev, "status", *env_state, *port_args], capture_output=True, text=True, timeout=60)
        assert st.returncode == 0 and st.stdout.count("running") == 6
        # run.sh waits for a reading newer than its start from every probe, not for any first point
        fresh = subprocess.run([*dev, "wait", "--since", str(started), "--timeout", "120", *env_state, *port_args],
                               capture_output=True, text=True, timeout=180)
        assert fresh.returncode == 0, fresh
        assert fresh.stdout.splitlines()[-1] == "fresh readings: host, http, ping"
        future = subprocess.run([*dev, "wait", "--since", str(time.time() + 3600), "--timeout", "0", *env_state,
                                 *port_args], capture_output=True, text=True, timeout=60)
        assert future.returncode == 1 and "no fresh reading after 0s from: host, http, ping" in future.stderr
    finally:
        local.down(log=lambda _: None)
    assert not any(pid for _, pid in local.status())
    st = subprocess.run([*dev, "status", *env_state, *port_args], capture_output=True, text=True, timeout=60)
    assert st.returncode == 3 and st.stdout.count("stopped") == 6


def test_the_collector_cli_has_only_product_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "collector.cli", "stack", "status"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "invalid choice: 'stack'" in out.stderr
    for command in ("run", "validate", "status", "enroll", "broker-files"):
        assert command in out.stderr
