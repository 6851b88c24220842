"""agent.hostos: the Windows-specific code paths in one module. The Linux branches run here; the Windows ones
are type-checked with ``mypy --platform win32`` and their parsing tested on real ``route print`` output."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from agent import hostos
from agent.net.netinfo import DefaultRoute

ROOT = Path(__file__).resolve().parents[2]

ROUTE_PRINT = """\
===========================================================================
Interface List
 12...00 15 5d 01 02 03 ......Intel(R) Ethernet Connection
===========================================================================

IPv4 Route Table
===========================================================================
Active Routes:
Network Destination        Netmask          Gateway       Interface  Metric
          0.0.0.0          0.0.0.0      192.168.2.1    192.168.2.50     45
          0.0.0.0          0.0.0.0      192.168.1.1    192.168.1.23     25
===========================================================================
Persistent Routes:
  None
"""


def test_windows_code_paths_type_check_for_win32() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy", "--platform", "win32", "--strict", "--no-incremental",
                        "agent/hostos.py"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout


def test_route_print_gives_default_routes_best_metric_first() -> None:
    assert hostos.parse_route_print(ROUTE_PRINT) == [DefaultRoute("192.168.1.1", "192.168.1.23", 25),
                                                     DefaultRoute("192.168.2.1", "192.168.2.50", 45)]
    assert hostos.parse_route_print("Active Routes:\n  None\n") == []


def test_linux_answers() -> None:
    assert hostos.IS_WINDOWS is False
    assert hostos.data_dir() == Path("/var/lib/commune-agent")
    assert hostos.is_admin() is (os.geteuid() == 0)
    assert hostos.windows_store_certs() == []


async def test_a_stop_request_cancels_the_main_task() -> None:
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    async def main() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "cancelled"
        return "not cancelled"

    task: asyncio.Task[object] = asyncio.ensure_future(main())
    hostos.install_stop_handlers(loop, task)
    try:
        await started.wait()
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(task, 10) == "cancelled"
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
