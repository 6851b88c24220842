"""The collector service: a durable MQTT session in, the pipeline to InfluxDB, acks out, its own stats.

Measurements it writes itself (through ``Pipeline.add_own``)
- ``collector`` (tag ``collector``): received, batches_accepted, points_accepted, points_written,
  batches_written, acks_sent, acks_failed, write_errors, points_quarantined, duplicates_dropped,
  duplicates_reacked (batches an agent sent again: not written twice), own_points, rejected_total,
  rejected_<reason>, pending_points, pending_batches, mqtt_connected.
- ``agent_clock`` (inventory tags): offset_ms (collector - agent, as the agent measured it from acks and sent
  in ``Batch.clock_offset_ms``), skewed (1 when beyond ``clock_skew_max``).
- ``agent_status`` (inventory tags): state ("online"/"offline"), online (1/0) — from the retained status
  and the last will.
The same counters, per-agent last-seen times and rejections by agent and reason are on ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from pathlib import Path

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent import wire
from collector.acks import MqttAckPublisher
from collector.config import CollectorConfig
from collector.errors import ConfigError
from collector.influx import InfluxClient, make_influx_client
from collector.lineproto import LineEncoder
from collector.metrics import CONTENT_TYPE, CollectorMetrics
from collector.pipeline import COUNTERS, Pipeline
from collector.retention import ensure_retention
from collector.validate import Accepted, Validator
from common.backoff import Backoff
from common.mqtt import client_tls_context, mqtt_error
from common.secret_files import read_secret
from common.supervise import supervise

log = logging.getLogger("collector")


class Collector:
    def __init__(self, cfg: CollectorConfig, state_dir: Path, influx: InfluxClient | None = None) -> None:
        self.cfg = cfg
        self.state_dir = state_dir
        self.influx = influx or make_influx_client(cfg.influx, cfg.source)
        self.encoder = LineEncoder()
        self.validator = Validator(cfg.inventory, self.encoder)
        self.acks = MqttAckPublisher()
        self.pipeline = Pipeline(
            self.influx, self.acks, batch_points=cfg.influx.batch_points, flush_interval=cfg.influx.flush_interval,
            max_pending_points=cfg.influx.max_pending_points, quarantine_path=state_dir / "quarantine.jsonl",
        )
        self.rejected_by_agent: Counter[tuple[str, str]] = Counter()  # (agent from the topic, reason)
        self.clock_skewed: Counter[str] = Counter()
        self.last_seen: dict[str, float] = {}  # agent -> unix seconds of its last valid message
        self.received = 0
        self.connected = False
        self.name = socket.gethostname()
        self.metrics = CollectorMetrics(self)

    # message handling ---------------------------------------------------------------------------
    async def handle(self, topic: str, payload: bytes) -> None:
        self.received += 1
        try:
            identity, kind = self.validator.identify(topic)
            if kind == "metrics":
                accepted = self.validator.metrics(identity, payload)
                self.last_seen[identity.agent] = time.time()
                await self.pipeline.add(accepted)
                if accepted.clock_offset_ms is not None:
                    await self._check_clock(accepted, accepted.clock_offset_ms)
            elif kind == "status":
                status = wire.decode_status(payload)
                self.last_seen[identity.agent] = time.time()
                line = self.encoder.line("agent_status", identity.tags(),
                                         {"state": status.state, "online": 1 if status.state == "online" else 0},
                                         time.time_ns())
                await self.pipeline.add_own([line.encode()])
            else:
                raise wire.WireError("bad_topic", f"unexpected topic kind {kind!r}")
        except wire.WireError as exc:
            parts = topic.split("/")
            agent = parts[2] if len(parts) == 4 and wire.is_valid_agent_id(parts[2]) else "(invalid)"
            self.rejected_by_agent[(agent, exc.reason)] += 1
            log.warning("rejected message from agent %s on %s: %s", agent, topic, exc)

    async def _check_clock(self, accepted: Accepted, offset: float) -> None:
        skewed = abs(offset) > self.cfg.file.clock_skew_max * 1000.0
        if skewed:
            self.clock_skewed[accepted.identity.agent] += 1
            log.warning("agent %s clock is off by %.1fs (limit %.0fs)", accepted.identity.agent, offset / 1000.0,
                        self.cfg.file.clock_skew_max)
        line = self.encoder.line("agent_clock", accepted.identity.tags(),
                                 {"offset_ms": offset, "skewed": 1 if skewed else 0}, time.time_ns())
        await self.pipeline.add_own([line.encode()])

    @property
    def rejected(self) -> Counter[str]:
        """Rejections by reason (all agents)."""
        out: Counter[str] = Counter()
        for (_, reason), n in self.rejected_by_agent.items():
            out[reason] += n
        return out

    def counters(self) -> dict[str, int]:
        c = self.pipeline.stats.counters
        return {"received": self.received, **{k: int(c.get(k, 0)) for k in COUNTERS}}

    def stats_fields(self) -> dict[str, int]:
        rejected = self.rejected
        fields = self.counters()
        fields.update(rejected_total=sum(rejected.values()), pending_points=self.pipeline.pending_points,
                      pending_batches=self.pipeline.pending_batches, mqtt_connected=1 if self.connected else 0)
        fields.update({f"rejected_{k}": v for k, v in rejected.items()})
        return fields

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.file.stats_interval)
            fields = self.stats_fields()
            line = self.encoder.line("collector", {"collector": self.name}, fields, time.time_ns())
            await self.pipeline.add_own([line.encode()])
            log.info("stats: %s", " ".join(f"{k}={v}" for k, v in fields.items() if v))

    # MQTT ---------------------------------------------------------------------------------------
    def _client(self) -> aiomqtt.Client:
        m = self.cfg.mqtt
        tls_context = client_tls_context(m.ca_file, m.cert_file, m.key_file) if m.tls or m.ca_file else None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = int(m.session_expiry)
        client = aiomqtt.Client(
            m.host, m.port, username=m.username or None,
            password=read_secret(m.password, m.password_file, f"{self.cfg.source}: mqtt.password_file", ConfigError),
            identifier=m.client_id, protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=props,
            keepalive=m.keepalive, tls_context=tls_context, max_queued_incoming_messages=10_000,
        )
        client.pending_calls_threshold = 10_000  # acks to many agents at once are normal
        return client

    async def _mqtt_loop(self) -> None:
        m = self.cfg.mqtt
        backoff = Backoff(m.reconnect_min, m.reconnect_max)
        while True:
            try:
                async with self._client() as client:
                    self.connected = True
                    backoff.reset()
                    log.info("connected to mqtt %s:%d as %s", m.host, m.port, m.client_id)
                    await client.subscribe(f"{wire.TOPIC_ROOT}/+/metrics", qos=1)
                    await client.subscribe(f"{wire.TOPIC_ROOT}/+/status", qos=1)
                    self.acks.client = client
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes | bytearray):
                            payload = str(payload).encode()
                        await self.handle(str(message.topic), bytes(payload))
            except Exception as exc:  # MQTT errors may arrive wrapped in an ExceptionGroup
                err = mqtt_error(exc)
                if err is None:
                    raise
                log.warning("mqtt: %s", err)
            finally:
                self.connected = False
                self.acks.client = None
            wait = backoff.next()
            log.info("reconnecting to mqtt in %.1fs", wait)
            await asyncio.sleep(wait)

    async def _ensure_database(self) -> None:
        if not self.cfg.influx.create_database:
            return
        backoff = Backoff(0.5, 10.0)
        while True:
            try:
                await self.influx.ensure_database()
                return
            except Exception as exc:
                log.warning("cannot create database yet (%s); retrying", exc)
                await asyncio.sleep(backoff.next())

    async def _serve_metrics(self) -> None:
        from aiohttp import web

        host, _, port = self.cfg.file.metrics_listen.rpartition(":")

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
        log.info("metrics on http://%s:%s/metrics", host or "127.0.0.1", port)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    async def run(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        await self._ensure_database()
        await ensure_retention(self.cfg, self.influx)  # policies, rollup CQs, meta points (idempotent)
        try:
            async with asyncio.TaskGroup() as tg:
                if self.cfg.file.metrics_listen:
                    tg.create_task(self._serve_metrics())
                tg.create_task(supervise("mqtt", self._mqtt_loop))
                tg.create_task(supervise("pipeline", self.pipeline.run))
                tg.create_task(supervise("stats", self._stats_loop))
        finally:
            await self.influx.close()
