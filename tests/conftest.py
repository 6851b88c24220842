from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import Influx, need_binary, start_influx, start_mosquitto

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
