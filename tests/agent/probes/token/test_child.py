"""The token probe's child process: a vendor library that crashes or hangs is a result code, never an exception,
and the agent process itself never loads python-pkcs11 or cryptography."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from agent.config import parse_config
from agent.probes.base import ProbeContext
from agent.probes.token import TokenConfig, TokenProbe
from agent.probes.token.child import CHILD_MODULE, deadline_s, request_bytes
from agent.wire import Point

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build the misbehaving libraries")

CRASHES = '#include <signal.h>\nlong C_GetFunctionList(void **list) { raise(SIGSEGV); return 0; }\n'
HANGS = '#include <unistd.h>\nlong C_GetFunctionList(void **list) { for (;;) pause(); return 0; }\n'


def vendor_library(tmp_path: Path, name: str, source: str) -> Path:
    """A real shared library exporting C_GetFunctionList that misbehaves the way ``source`` says."""
    c, so = tmp_path / f"{name}.c", tmp_path / f"lib{name}.so"
    c.write_text(source)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(so), str(c)], check=True, capture_output=True, timeout=60)
    return so


def token_config(path: Path) -> TokenConfig:
    body = {"modules": [{"name": "vendor", "path": str(path)}], "module_timeout": "1s", "endpoint_timeout": "1s"}
    cfg = parse_config({"agent": {"id": "pc-token-test"}, "probes": {"token": body}}, "test.yaml").probes["token"]
    assert isinstance(cfg, TokenConfig)
    return cfg


def scan_children() -> list[int]:
    return [p.pid for p in psutil.Process().children(recursive=True)
            if "agent.probes.token.scan" in " ".join(p.cmdline())]


async def collect(cfg: TokenConfig) -> list[Point]:
    probe = TokenProbe(cfg, ProbeContext(agent_id="pc-token-test"))
    try:
        return await probe.collect()
    finally:
        await probe.close()


async def test_library_that_crashes_the_process_is_module_error(tmp_path: Path) -> None:
    lib = vendor_library(tmp_path, "crashes", CRASHES)
    (point,) = await collect(token_config(lib))
    assert point.m == "token_module"
    assert point.tg == {"module": "vendor", "path": str(lib)}
    assert point.f["result"] == "module_error"
    assert point.f["ok"] == 0
    assert point.f["loaded"] == 0
    assert "SIGSEGV" in str(point.f["reason"]), point.f


async def test_library_that_hangs_is_module_timeout_and_the_child_is_killed(tmp_path: Path) -> None:
    lib = vendor_library(tmp_path, "hangs", HANGS)
    cfg = token_config(lib)
    (point,) = await collect(cfg)
    assert point.m == "token_module"
    assert point.f["result"] == "module_timeout", point.f
    assert "did not answer" in str(point.f["reason"])
    assert point.f["ok"] == 0
    assert point.f["loaded"] == 0
    assert scan_children() == []  # killed and reaped: nothing left running the hanging library
    assert deadline_s(cfg) > float(cfg.module_timeout)  # the outer bound leaves the library its own timeout


def test_orphaned_child_stuck_in_a_library_ends_by_itself(tmp_path: Path) -> None:
    """No agent waits for it (the agent was killed): the child still ends, shortly after the agent's deadline."""
    lib = vendor_library(tmp_path, "hangs", HANGS)
    cfg = token_config(lib)
    child = subprocess.run([sys.executable, "-m", CHILD_MODULE], input=request_bytes(cfg, cfg.modules[0], time.time_ns()),
                           capture_output=True, timeout=deadline_s(cfg) + 30)
    assert child.returncode == -signal.SIGALRM
    assert child.stdout == b""
