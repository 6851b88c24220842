"""Checks before the collector starts anything: a port it must listen on is free. Failing here gives the real
cause (``[Errno 98] Address already in use``) instead of an error from tasks torn down half-started."""

from __future__ import annotations

import socket

from collector.errors import CollectorError


def check_listen(address: str, what: str = "metrics_listen") -> None:
    """Raise CollectorError naming ``address`` and the OS error if it cannot be bound (``host:port``; '' = off)."""
    if not address:
        return
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]") or "127.0.0.1", int(port)))
        except OSError as exc:
            raise CollectorError(f"{what} {address}: cannot listen: [Errno {exc.errno}] {exc.strerror} "
                                 "(is another collector or local stack running?)") from None
