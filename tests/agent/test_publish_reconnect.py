"""A returning link is seen within seconds: the agent does not wait out its reconnect backoff once the broker
accepts connections again (real Mosquitto, stopped and started again)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import parse_config
from agent.publish import Publisher
from agent.queue import DiskQueue
from tests.support.services import need_binary, start_mosquitto, wait_for


@contextlib.contextmanager
def running_publisher(cfg_doc: dict[str, object], queue_path: Path) -> Iterator[Publisher]:
    """The publisher on its own event loop in a thread (so the test can stop and start the broker meanwhile)."""
    cfg = parse_config(cfg_doc, "test.yaml")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    def main() -> None:
        asyncio.set_event_loop(loop)
        pub = Publisher(cfg, DiskQueue(queue_path, 1 << 20, 3600))
        task = loop.create_task(pub.run())
        box.update(pub=pub, task=task)
        ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        pub = box["pub"]
        assert isinstance(pub, Publisher)
        yield pub
    finally:
        task = box["task"]
        assert isinstance(task, asyncio.Task)
        loop.call_soon_threadsafe(task.cancel)
        thread.join(30)


@pytest.mark.integration
def test_the_reconnect_wait_ends_when_the_broker_is_back(tmp_path: Path) -> None:
    need_binary("mosquitto")
    broker, port = start_mosquitto(tmp_path / "broker")
    reconnect_min = 40.0  # the first wait alone is >= 20 s (x0.5-1.5 jitter): what a long cut leaves behind
    doc = {"agent": {"id": "pc-reconnect"},
           "mqtt": {"port": port, "reconnect_min": reconnect_min, "reconnect_max": 60, "reachability_check": "200ms",
                    "connect_timeout": "2s"}}
    try:
        with running_publisher(doc, tmp_path / "queue.sqlite") as pub:
            wait_for(lambda: pub.stats.connected, 30, what="first connection")
            broker.stop()
            wait_for(lambda: pub.stats.reconnects == 1 and pub.stats.last_scheduled_delay > 0, 30,
                     what="the agent to schedule its reconnect")
            scheduled = pub.stats.last_scheduled_delay
            assert scheduled >= reconnect_min * 0.5
            broker.start()
            # bound from config: well inside the scheduled wait, whatever the machine's speed
            wait_for(lambda: pub.stats.connected, scheduled / 2, what="reconnection before the backoff ran out")
            assert pub.stats.waits_cut_short == 1  # the wait ended early because the broker answered
            assert pub.stats.reconnects == 1  # one backoff step: no connect attempt was spent on the way
    finally:
        broker.stop()


@pytest.mark.integration
def test_reachability_checks_can_be_turned_off(tmp_path: Path) -> None:
    """reachability_check: 0 keeps the plain backoff (the reconnect waits its scheduled delay)."""
    need_binary("mosquitto")
    broker, port = start_mosquitto(tmp_path / "broker")
    doc = {"agent": {"id": "pc-reconnect"},
           "mqtt": {"port": port, "reconnect_min": "200ms", "reconnect_max": "400ms", "reachability_check": 0}}
    try:
        with running_publisher(doc, tmp_path / "queue.sqlite") as pub:
            wait_for(lambda: pub.stats.connected, 30, what="first connection")
            broker.stop()
            wait_for(lambda: pub.stats.reconnects >= 2, 30, what="reconnect attempts while the broker is down")
            broker.start()
            wait_for(lambda: pub.stats.connected, 30, what="reconnection")
            assert pub.stats.waits_cut_short == 0
    finally:
        broker.stop()
