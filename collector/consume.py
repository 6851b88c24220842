"""The collector service: a durable MQTT session in, the pipeline to InfluxDB, acks out, its own stats.

Measurements it writes itself
- ``collector`` (tag ``collector``): received, batches_accepted, points_accepted, points_written,
  batches_written, acks_sent, write_errors, points_quarantined, duplicates_dropped, duplicates_reacked
  (batches an agent sent again: not written twice), rejected_total, rejected_<reason>,
  pending_points, pending_batches.
- ``agent_clock`` (inventory tags): offset_ms (collector - agent, as the agent measured it from acks),
  skewed (1 when beyond ``clock_skew_max``).
- ``agent_status`` (inventory tags): state ("online"/"offline"), online (1/0) — from the retained status
  and the last will.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import time
from collections import Counter
from pathlib import Path

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent import wire
from agent.wire import mqtt_error, supervise
from collector.config import CollectorConfig, read_secret
from collector.influx import Writer, make_writer
from collector.lineproto import LineEncoder
from collector.pipeline import Pipeline
from collector.validate import Accepted, Validator

log = logging.getLogger("collector")


class Collector:
    def __init__(self, cfg: CollectorConfig, state_dir: Path, writer: Writer | None = None) -> None:
        self.cfg = cfg
        self.state_dir = state_dir
        self.writer = writer or make_writer(cfg.influx, cfg.source)
        self.encoder = LineEncoder()
        self.validator = Validator(cfg.inventory, self.encoder)
        self.pipeline = Pipeline(
            self.writer, batch_points=cfg.influx.batch_points, flush_interval=cfg.influx.flush_interval,
            max_pending_points=cfg.influx.max_pending_points, quarantine_path=state_dir / "quarantine.jsonl",
        )
        self.rejected: Counter[str] = Counter()
        self.clock_skewed: Counter[str] = Counter()
        self.received = 0
        self.connected = False
        self.name = socket.gethostname()

    # message handling ---------------------------------------------------------------------------
    async def handle(self, topic: str, payload: bytes) -> None:
        self.received += 1
        try:
            identity, kind = self.validator.identify(topic)
            if kind == "metrics":
                accepted = self.validator.metrics(identity, payload)
                await self.pipeline.add(accepted)
                if accepted.clock_offset_ms is not None:
                    await self._check_clock(accepted)
            elif kind == "status":
                status = wire.decode_status(payload)
                line = self.encoder.line("agent_status", identity.tags(),
                                         {"state": status.state, "online": 1 if status.state == "online" else 0},
                                         time.time_ns())
                await self._add_own([line.encode()])
            else:
                raise wire.WireError("bad_topic", f"unexpected topic kind {kind!r}")
        except wire.WireError as exc:
            self.rejected[exc.reason] += 1
            agent = topic.split("/")[2] if topic.count("/") >= 3 else topic
            log.warning("rejected message from agent %s on %s: %s", agent, topic, exc)

    async def _check_clock(self, accepted: Accepted) -> None:
        offset = accepted.clock_offset_ms or 0.0
        skewed = abs(offset) > self.cfg.file.clock_skew_max * 1000.0
        if skewed:
            self.clock_skewed[accepted.identity.agent] += 1
            log.warning("agent %s clock is off by %.1fs (limit %.0fs)", accepted.identity.agent, offset / 1000.0,
                        self.cfg.file.clock_skew_max)
        line = self.encoder.line("agent_clock", accepted.identity.tags(),
                                 {"offset_ms": offset, "skewed": 1 if skewed else 0}, time.time_ns())
        await self._add_own([line.encode()])

    async def _add_own(self, lines: list[bytes]) -> None:
        from collector.config import AgentIdentity
        from collector.registry import Commune
        me = AgentIdentity("collector", Commune("", "", 0, ""), "", "")
        await self.pipeline.add(Accepted(me, -1, lines, time.time_ns()))

    def stats_fields(self) -> dict[str, int]:
        c = self.pipeline.stats.counters
        fields = {k: int(c.get(k, 0)) for k in ("batches_accepted", "points_accepted", "points_written",
                                                 "batches_written", "acks_sent", "write_errors", "points_quarantined",
                                                 "duplicates_dropped", "duplicates_reacked")}
        fields.update(received=self.received, rejected_total=sum(self.rejected.values()),
                      pending_points=self.pipeline.pending_points, pending_batches=self.pipeline.pending_batches,
                      mqtt_connected=1 if self.connected else 0)
        fields.update({f"rejected_{k}": v for k, v in self.rejected.items()})
        return fields

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.file.stats_interval)
            line = self.encoder.line("collector", {"collector": self.name}, self.stats_fields(), time.time_ns())
            await self._add_own([line.encode()])
            log.info("stats: %s", " ".join(f"{k}={v}" for k, v in self.stats_fields().items() if v))

    # MQTT ---------------------------------------------------------------------------------------
    def _client(self) -> aiomqtt.Client:
        m = self.cfg.mqtt
        tls_context = None
        if m.tls or m.ca_file:
            tls_context = ssl.create_default_context(cafile=m.ca_file or None)
            if m.cert_file:
                tls_context.load_cert_chain(m.cert_file, m.key_file or None)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = int(m.session_expiry)
        client = aiomqtt.Client(
            m.host, m.port, username=m.username or None,
            password=read_secret(m.password, m.password_file, self.cfg.source, "mqtt.password_file"),
            identifier=m.client_id, protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=props,
            keepalive=m.keepalive, tls_context=tls_context, max_queued_incoming_messages=10_000,
        )
        client.pending_calls_threshold = 10_000  # acks to many agents at once are normal
        return client

    async def _mqtt_loop(self) -> None:
        m = self.cfg.mqtt
        delay = m.reconnect_min
        while True:
            try:
                async with self._client() as client:
                    self.connected = True
                    delay = m.reconnect_min
                    log.info("connected to mqtt %s:%d as %s", m.host, m.port, m.client_id)
                    await client.subscribe(f"{wire.TOPIC_ROOT}/+/metrics", qos=1)
                    await client.subscribe(f"{wire.TOPIC_ROOT}/+/status", qos=1)

                    async def send_ack(agent_id: str, payload: bytes, client: aiomqtt.Client = client) -> None:
                        async with asyncio.timeout(10):
                            await client.publish(wire.topic(agent_id, "ack"), payload, qos=1)

                    self.pipeline.set_ack_sender(send_ack)
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
                self.pipeline.set_ack_sender(None)
            wait = delay * (0.5 + random.random())
            log.info("reconnecting to mqtt in %.1fs", wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, m.reconnect_max)

    async def _ensure_database(self) -> None:
        ensure = getattr(self.writer, "ensure_database", None)
        if ensure is None or not self.cfg.influx.create_database:
            return
        delay = 0.5
        while True:
            try:
                await ensure()
                return
            except Exception as exc:
                log.warning("cannot create database yet (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def prometheus_text(self) -> str:
        lines = []
        for key, value in sorted(self.stats_fields().items()):
            if key.startswith("rejected_") and key != "rejected_total":
                continue
            lines.append(f"commune_collector_{key} {value}")
        for reason, count in sorted(self.rejected.items()):
            lines.append(f'commune_collector_rejected{{reason="{reason}"}} {count}')
        return "\n".join(lines) + "\n"

    async def _serve_metrics(self) -> None:
        from aiohttp import web

        host, _, port = self.cfg.file.metrics_listen.rpartition(":")

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(text=self.prometheus_text(), content_type="text/plain")

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
        try:
            async with asyncio.TaskGroup() as tg:
                if self.cfg.file.metrics_listen:
                    tg.create_task(self._serve_metrics())
                tg.create_task(supervise("mqtt", self._mqtt_loop))
                tg.create_task(supervise("pipeline", self.pipeline.run))
                tg.create_task(supervise("stats", self._stats_loop))
        finally:
            await self.writer.close()
