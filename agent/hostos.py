"""Everything the agent does differently on Windows, in one place (type-checked for win32 by
``mypy --platform win32``; run for real only on Linux here - the Windows branches are untested in CI).

- where the agent keeps its config and state (``%ProgramData%\\CommuneMonitor`` on Windows);
- whether it runs with the rights raw ICMP needs (root / Administrator);
- how a stop request arrives (SIGTERM on Linux; Ctrl+C / Ctrl+Break, which the WinSW service wrapper
  sends, on Windows, where the event loop has no signal handlers);
- the default route (``/proc/net/route`` on Linux, ``route print`` on Windows);
- the personal certificate store (Windows only: ``ssl.enum_certificates``).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from agent.net.netinfo import DefaultRoute

IS_WINDOWS = sys.platform == "win32"

def data_dir() -> Path:
    """Config and state of an installed agent."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "CommuneMonitor"
    return Path("/var/lib/commune-agent")


def is_admin() -> bool:
    """Root on POSIX; an elevated Administrator (or LocalSystem, as a service runs) on Windows."""
    if sys.platform == "win32":
        import ctypes

        try:
            return bool(ctypes.windll.shell32.IsUserAnAdmin())
        except OSError:
            return False
    return os.geteuid() == 0


def install_stop_handlers(loop: asyncio.AbstractEventLoop, task: asyncio.Task[object]) -> None:
    """Cancel ``task`` on a stop request."""
    if sys.platform == "win32":
        def stop(_signum: int, _frame: object) -> None:
            loop.call_soon_threadsafe(task.cancel)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGBREAK, stop)
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)


_WIN_ROUTE_RE = re.compile(r"^\s*0\.0\.0\.0\s+0\.0\.0\.0\s+(\d+\.\d+\.\d+\.\d+)\s+(\d+\.\d+\.\d+\.\d+)\s+(\d+)\s*$")


def parse_route_print(out: str) -> list[DefaultRoute]:
    """Default routes from ``route print -4 0.0.0.0`` (the gateway column holds the gateway address,
    the interface column the local address of the interface)."""
    routes = [DefaultRoute(m.group(1), m.group(2), int(m.group(3)))
              for line in out.splitlines() if (m := _WIN_ROUTE_RE.match(line))]
    return sorted(routes, key=lambda r: r.metric)


def default_routes_windows(timeout: float = 5.0) -> list[DefaultRoute]:
    try:
        out = subprocess.run(["route", "print", "-4", "0.0.0.0"], capture_output=True, text=True,
                             timeout=timeout, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_route_print(out)


def windows_store_certs() -> list[bytes]:
    """DER certificates of the current user's personal store (Windows only; [] elsewhere)."""
    if sys.platform == "win32":
        import ssl

        return [bytes(der) for der, encoding, _trust in ssl.enum_certificates("MY") if encoding == "x509_asn"]
    return []
