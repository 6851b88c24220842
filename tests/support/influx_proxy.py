"""A failure-injecting HTTP proxy in front of a real InfluxDB, switchable per test.

``mode`` decides how a ``/write`` is answered (reads and ``CREATE DATABASE`` always pass through):
- ``None``: forwarded to InfluxDB, its answer returned;
- an HTTP status (401, 403, 404, 500, 503 ...): answered with that status and an InfluxDB-like error body;
- ``"timeout"``: the request is held (no answer) until the mode changes, so the client's timeout fires;
- ``"too_large"``: bodies over ``max_body`` bytes get 413, smaller ones are forwarded.
``pass_then(n, mode)`` forwards the next ``n`` writes whatever the mode, then switches to ``mode`` (InfluxDB
going down right after a write, without racing the client).
Every ``/write`` is recorded as (status answered, number of lines) in ``writes``; a held one (timeout mode) is
recorded as (0, lines) when it arrives.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

_MESSAGES = {401: "authorization failed", 403: "forbidden: user is not authorized to write to database",
             404: 'database not found: "x"', 413: "request entity too large", 500: "internal error",
             503: "service unavailable"}


class InfluxProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.max_body = 2000
        self.writes: list[tuple[int, int]] = []
        self._mode: int | str | None = None
        self._passes: tuple[int, int | str | None] | None = None  # (writes still forwarded, mode after them)
        self._changed = threading.Condition()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.startswith(("/write", "/api/v2/write")):
                    self._forward(body)
                    return
                status = proxy._decide(len(body), body.count(b"\n") + 1 if body else 0)
                if status is None:
                    status = self._forward(body)
                else:
                    self._reply(status, json.dumps({"error": _MESSAGES.get(status, "injected failure")}).encode())
                with proxy._changed:
                    proxy.writes.append((status, body.count(b"\n") + 1 if body else 0))

            def _forward(self, body: bytes) -> int:
                req = urllib.request.Request(proxy.upstream + self.path, data=body or None, method=self.command,
                                             headers={k: v for k, v in self.headers.items()
                                                      if k.lower() in ("content-type", "authorization")})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as exc:
                    status, data = exc.code, exc.read()
                self._reply(status, data)
                return status

            def _reply(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout mode)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def mode(self) -> int | str | None:
        return self._mode

    @mode.setter
    def mode(self, value: int | str | None) -> None:
        with self._changed:
            self._mode = value
            self._passes = None
            self._changed.notify_all()

    def pass_then(self, writes: int, mode: int | str | None) -> None:
        """Forward the next ``writes`` writes, then answer as ``mode`` says."""
        with self._changed:
            self._passes = (writes, mode)

    def _decide(self, size: int, lines: int) -> int | None:
        """The status to inject for a write of ``size`` bytes, or None to forward it."""
        with self._changed:
            if self._passes is not None:
                left, after = self._passes
                if left > 0:
                    self._passes = (left - 1, after)
                    return None
                self._passes = None
                self._mode = after
            if self._mode == "timeout":
                self.writes.append((0, lines))  # held: the client's timeout fires first
                held = self._mode
                self._changed.wait_for(lambda: self._mode != held, timeout=60)
                return 503  # the client has timed out long ago; this answer is never read
            if self._mode == "too_large":
                return 413 if size > self.max_body else None
            return self._mode if isinstance(self._mode, int) else None

    def failed_writes(self) -> int:
        with self._changed:
            return sum(1 for status, _ in self.writes if status >= 300 or status == 0)

    def start(self) -> InfluxProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.mode = None
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def influx_proxy(upstream: str) -> Iterator[InfluxProxy]:
    proxy = InfluxProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
