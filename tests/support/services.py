"""Real services for the tests (Mosquitto, InfluxDB, Alertmanager) on free loopback ports in temp folders,
plus small helpers to wait for a condition with a deadline (never a bare sleep)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devstack import services as stack

T = TypeVar("T")


def need_binary(name: str) -> None:
    try:
        stack.find_binary(name)
    except Exception as exc:
        if shutil.which("apt-get"):
            pytest.fail(f"{name} missing although apt-get exists: run scripts/bootstrap.sh ({exc})")
        pytest.skip(f"{name} is not installed here: {exc}")


def wait_for(check: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail the test with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class Influx:
    def __init__(self, service: stack.Service, port: int) -> None:
        self.service = service
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def query(self, q: str, db: str) -> list[dict[str, Any]]:
        data = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ns"}).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=data, timeout=10) as r:
            res = json.loads(r.read())
        first = res["results"][0]
        if "error" in first:
            raise AssertionError(first["error"])
        return list(first.get("series", []))

    def rows(self, q: str, db: str) -> list[dict[str, Any]]:
        """Flatten series into dicts of column -> value, with the series' tags merged in."""
        out = []
        for s in self.query(q, db):
            for values in s.get("values", []):
                out.append({**s.get("tags", {}), **dict(zip(s["columns"], values, strict=False))})
        return out

    def create(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"', db)


def start_influx(workdir: Path) -> Influx:
    port = stack.free_port()
    svc = stack.influxdb(workdir, port, stack.free_port())
    svc.start()
    return Influx(svc, port)


def start_mosquitto(workdir: Path, extra_conf: str = "", anonymous: bool = True, port: int | None = None,
                    plain_listener: bool = True) -> tuple[stack.Service, int]:
    port = port or stack.free_port()
    svc = stack.mosquitto(workdir, port, extra_conf, anonymous, plain_listener)
    svc.start()
    return svc, port
