from __future__ import annotations

import itertools
import os
import re
import shutil
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import Influx, need_binary, start_influx, start_mosquitto
from tests.support.smtp import SmtpSink, smtp_sink

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influx]:
    need_binary("influxd")
    influx = start_influx(tmp_path_factory.mktemp("influxdb"))
    yield influx
    influx.service.stop()


@pytest.fixture
def influx(influx_server: Influx) -> tuple[Influx, str]:
    """The shared InfluxDB server and a fresh database name for this test."""
    db = f"test_{next(_db_counter)}"
    influx_server.create(db)
    return influx_server, db


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    need_binary("mosquitto")
    svc, port = start_mosquitto(tmp_path / "mosquitto")
    yield port
    svc.stop()


# --- skips are failures unless this machine really cannot run the test -----------------------------------

def _not_root() -> bool:
    return sys.platform != "linux" or os.geteuid() != 0


def _no_package_manager() -> bool:
    return shutil.which("apt-get") is None


# (pattern of the skip reason, the condition under which such a skip is honest). Any other skip fails the
# run: a test that skips where it could run hides a broken fixture or a missing package.
ALLOWED_SKIPS: tuple[tuple[re.Pattern[str], Callable[[], bool]], ...] = (
    (re.compile(r"^needs root\b"), _not_root),  # network namespaces, raw sockets, mounts
    (re.compile(r"^network namespaces are Linux-only$"), lambda: sys.platform != "linux"),
    (re.compile(r"^\S+ is not installed here: "), _no_package_manager),  # need_binary where apt-get cannot add it
)


def skip_allowed(reason: str) -> bool:
    reason = reason.removeprefix("Skipped: ")
    return any(pattern.search(reason) and honest() for pattern, honest in ALLOWED_SKIPS)


def _skip_reason(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return str(getattr(excinfo.value, "msg", excinfo.value))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and call.excinfo is not None:
        reason = _skip_reason(call.excinfo)
        if not skip_allowed(reason):
            report.outcome = "failed"
            report.longrepr = f"unexpected skip (not in tests/conftest.py ALLOWED_SKIPS for this machine): {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    report = yield
    if report.skipped:
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not skip_allowed(reason):
            report.outcome = "failed"
            report.longrepr = f"unexpected module-level skip (not in ALLOWED_SKIPS for this machine): {reason}"
    return report


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping every mail it receives."""
    with smtp_sink() as s:
        yield s
