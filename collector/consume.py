"""The collector service: a durable MQTT session in, the pipeline to InfluxDB, acks out, its own stats.

Measurements it writes itself (through ``Pipeline.add_own``)
- ``collector`` (tag ``collector``): received, batches_accepted, points_accepted, points_written,
  batches_written, acks_sent, acks_failed, write_errors, points_quarantined, duplicates_dropped,
  duplicates_reacked (batches an agent sent again: not written twice), own_points, rejected_total,
  rejected_<reason>, pending_points, pending_batches, mqtt_connected, mqtt_connects (MQTT connections made:
  1 + reconnects), write_latency_mean_ms and
  write_latency_max_ms (InfluxDB's answer times since the previous line; collector/write_latency.py).
- ``agent_clock`` (inventory tags): offset_ms (collector - agent, as the agent measured it from acks and sent
  in ``Batch.clock_offset_ms``), skewed (1 when beyond ``clock_skew_max``).
- ``agent_status`` (inventory tags): state ("online"/"offline"), online (1/0), version (the agent's, when its
  status message names one) — from the retained status and the last will.
- ``alerts``: one point per resolved alert (collector/alerts/history.py, docs/report.md).
The same counters, per-agent last-seen times and rejections by agent and reason are on ``/metrics``.

Flow control (nothing delivered is ever discarded): the MQTT 5 session asks for ``mqtt.receive_maximum``
(Receive Maximum) and acknowledges by hand: a message is PUBACKed only once its batch is written to InfluxDB
(or finally rejected: invalid, unknown agent, over a limit). Until then the broker keeps it, so while InfluxDB
is slow or down the broker holds the backlog, at most ``receive_maximum`` messages are in the collector (up
to ``_ceiling`` while nothing can be PUBACKed: ``Collector._pause_ran_out``), and a collector crash loses
nothing (the broker delivers the unacked messages again). Every message is counted from receipt to PUBACK:
``messages_received``, ``messages_acked``, ``messages_rejected`` and the ``messages_inflight`` gauge (with its
peak, ``messages_inflight_peak``). Acks to the agents go out at QoS 0 (collector/acks.py): a
publish that needed the broker's PUBACK, read from this socket, would starve while the read is paused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import aiomqtt
import msgspec
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent import wire
from collector.acks import MqttAckPublisher
from collector.alerts.promstats import AlertMetrics
from collector.alerts.service import AlertService
from collector.blocking import BLOCKED, STATE_FILE, Blocker, BlockMetrics
from collector.config import AgentIdentity, CollectorConfig
from collector.errors import ConfigError
from collector.influx import InfluxClient, make_influx_client
from collector.limits import RATE_LIMITED, AgentLimits
from collector.lineproto import LineEncoder
from collector.loglimit import LogLimiter
from collector.metrics import CONTENT_TYPE, CollectorMetrics
from collector.pipeline import COUNTERS, Pipeline
from collector.read_burst import read_in_bursts
from collector.retention import ensure_retention
from collector.scaleout import EvaluationFeed, FeedMetrics, evaluates_apart, session, topic_filters
from collector.schema_check import TimeWindow
from collector.validate import Accepted, Validator
from common.backoff import Backoff
from common.mqtt import client_tls_context, mqtt_error
from common.secret_files import read_secret
from common.supervise import supervise

log = logging.getLogger("collector")


def _ceiling(receive_maximum: int) -> int:
    """Messages in flight beyond which reading stops even after a pause ran out (``Collector._pause_ran_out``)."""
    return 2 * receive_maximum + 64


class _Head(msgspec.Struct):
    """The start of a batch, read without its points (unknown fields are skipped)."""

    v: int
    agent: str
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**62)]


_HEAD = msgspec.json.Decoder(_Head)
MAX_REJECTION_LABELS = 1000
"""(agent, reason) pairs counted separately; beyond this, agents outside the inventory count as ``(other)``."""


class Collector:
    def __init__(self, cfg: CollectorConfig, state_dir: Path, influx: InfluxClient | None = None) -> None:
        self.cfg = cfg
        self.state_dir = state_dir
        self.influx = influx or make_influx_client(cfg.influx, cfg.source)
        self.encoder = LineEncoder()
        self.validator = Validator(cfg.inventory, self.encoder, window=TimeWindow(
            cfg.file.clock_skew_max, cfg.file.max_point_age, cfg.file.max_future))
        self.acks = MqttAckPublisher()
        self.loglimit = LogLimiter(per_interval=cfg.file.log_lines_per_minute, interval=60.0)
        self.pipeline = Pipeline(
            self.influx, self.acks, batch_points=cfg.influx.batch_points, flush_interval=cfg.influx.flush_interval,
            max_pending_points=cfg.influx.max_pending_points, quarantine_path=state_dir / "quarantine.jsonl",
            quarantine_max_bytes=cfg.influx.quarantine_max_bytes, loglimit=self.loglimit,
        )
        self.limits = AgentLimits(cfg.file.limits)
        self.rejected_by_agent: Counter[tuple[str, str]] = Counter()  # (agent from the topic, reason)
        self.points_rejected: Counter[tuple[str, str]] = Counter()  # (agent, reason): points refused by a limit
        self.messages: Counter[str] = Counter()  # received, acked, rejected, stale (PUBACK after a reconnect)
        self.inflight = 0
        self.inflight_peak = 0
        self._paused: Any = None  # the socket whose reading is paused (too many messages not yet PUBACKed)
        self._subscribed = False  # no pause before the SUBACKs are read (a session's messages come first)
        self._may_pause = False  # subscribed, and no pause ran out since the last PUBACK (see _pause_ran_out)
        self._session = 0  # the MQTT connection's number; a PUBACK belongs to the connection it came on
        self.clock_skewed: Counter[str] = Counter()
        self.last_seen: dict[str, float] = {}  # agent -> unix seconds of its last valid message
        self.received = 0
        self.connected = False
        self.connects = 0  # MQTT connections made (1 + reconnects)
        self.name = socket.gethostname()
        self.metrics = CollectorMetrics(self)
        self.blocker = Blocker(cfg.file.block, cfg.inventory, state_dir / STATE_FILE)
        self.metrics.registry.register(BlockMetrics(self.blocker))
        self.alerts = AlertService(cfg, state_dir) if cfg.file.alerts.enabled else None
        if self.alerts is not None:
            self.metrics.registry.register(AlertMetrics(self.alerts))
            self.alerts.write_own = self.pipeline.add_own  # alert history (measurement "alerts")
        self.feed = EvaluationFeed(cfg.mqtt, Validator(cfg.inventory, window=self.validator.window), self.alerts,
                                   cfg.source) if self.alerts is not None and evaluates_apart(cfg.mqtt) else None
        if self.feed is not None:  # a shared member: the rules read the full stream (collector.scaleout)
            self.metrics.registry.register(FeedMetrics(self.feed))

    # message handling ---------------------------------------------------------------------------
    async def handle(self, topic: str, payload: bytes, done: Callable[[bool], None] | None = None) -> None:
        """Validate, limit and queue one message. ``done(rejected)`` runs once it is written (False) or finally
        rejected (True): the MQTT loop PUBACKs it then."""
        self.received += 1
        finish = done or (lambda rejected: None)
        try:
            identity, kind = self.validator.identify(topic)
            self.blocker.received[identity.agent] += 1
            if self.blocker.is_blocked(identity.agent):  # at the topic, before any payload work; not acked
                self.rejected_by_agent[(identity.agent, BLOCKED)] += 1
                finish(True)
                return
            if kind == "metrics" and self.limits.exhausted(identity.agent) and \
                    await self._refuse_unread(identity, payload, finish):
                return
            if kind == "metrics":
                accepted = self.validator.metrics(identity, payload)
                self.rejected_by_agent.update({(identity.agent, r): n for r, n in accepted.rejected.items()})
                for reason in accepted.rejected:
                    self.blocker.refused(identity.agent, reason)
                self.last_seen[identity.agent] = time.time()
                accepted = self._limit(accepted)
                await self.pipeline.add(accepted, content=payload, done=lambda: finish(False))
                if self.alerts is not None and self.feed is None:
                    self.alerts.observe(identity, accepted.points)
                if accepted.clock_offset_ms is not None:
                    await self._check_clock(accepted, accepted.clock_offset_ms)
            elif kind == "status":
                status = wire.decode_status(payload)
                self.last_seen[identity.agent] = time.time()
                fields: dict[str, str | int] = {"state": status.state, "online": 1 if status.state == "online" else 0}
                if status.version:
                    fields["version"] = status.version
                line = self.encoder.line("agent_status", identity.tags(), fields, time.time_ns())
                await self.pipeline.add_own([line.encode()], done=lambda: finish(False))
                if self.alerts is not None and self.feed is None:
                    self.alerts.observe_status(identity, status.state)
            else:
                raise wire.WireError("bad_topic", f"unexpected topic kind {kind!r}")
        except wire.WireError as exc:
            parts = topic.split("/")
            agent = parts[2] if len(parts) == 4 and wire.is_valid_agent_id(parts[2]) else "(invalid)"
            if self.cfg.inventory.get(agent) is None and (agent, exc.reason) not in self.rejected_by_agent and \
                    len(self.rejected_by_agent) >= MAX_REJECTION_LABELS:
                agent = "(other)"  # bounded: topic names not in the inventory could otherwise grow without end
            self.rejected_by_agent[(agent, exc.reason)] += 1
            self.blocker.refused(agent, exc.reason)
            self.loglimit.log(log, logging.WARNING, f"rejected:{agent}:{exc.reason}",
                              "rejected message from agent %s on %s: %s", agent, topic, str(exc)[:500])
            finish(True)

    async def _refuse_unread(self, identity: AgentIdentity, payload: bytes, finish: Callable[[bool], None]) -> bool:
        """The agent's bucket is empty: refuse the batch (``rate_limited``, final: acked) after reading only its
        sequence number, not its points. False when the header is unreadable or the batch is a resend."""
        try:
            head = _HEAD.decode(payload)
        except msgspec.DecodeError:
            return False
        agent = identity.agent
        if head.agent != agent or head.v != wire.SCHEMA_VERSION or self.pipeline.knows(agent, head.seq):
            return False
        self.rejected_by_agent[(agent, RATE_LIMITED)] += 1
        self.blocker.refused(agent, RATE_LIMITED)
        self.loglimit.log(log, logging.WARNING, f"limit:{agent}:{RATE_LIMITED}",
                          "agent %s: batch %d refused unread (%s)", agent, head.seq, RATE_LIMITED)
        await self.pipeline.add(Accepted(identity, head.seq, []), content=payload, done=lambda: finish(False))
        return True

    def _limit(self, accepted: Accepted) -> Accepted:
        """Apply the agent's limits: refused points are counted per agent and reason and not written; the batch
        is still acked (a rejection is final)."""
        agent = accepted.identity.agent
        if self.pipeline.knows(agent, accepted.seq):
            return accepted  # a resend: the pipeline acks or drops it; it costs no tokens and opens no series
        admission = self.limits.admit(agent, accepted.lines, accepted.series)
        if not admission.rejected:
            return accepted
        for reason, n in admission.rejected.items():
            self.points_rejected[(agent, reason)] += n
            self.blocker.refused(agent, reason)
            self.loglimit.log(log, logging.WARNING, f"limit:{agent}:{reason}",
                              "agent %s: %d point(s) of batch %d refused (%s)", agent, n, accepted.seq, reason)
        return replace(accepted, lines=[accepted.lines[i] for i in admission.admitted], series=None)

    async def _check_clock(self, accepted: Accepted, offset: float) -> None:
        skewed = abs(offset) > self.cfg.file.clock_skew_max * 1000.0
        if skewed:
            self.clock_skewed[accepted.identity.agent] += 1
            self.loglimit.log(log, logging.WARNING, f"clock:{accepted.identity.agent}",
                              "agent %s clock is off by %.1fs (limit %.0fs)", accepted.identity.agent, offset / 1000.0,
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
        return {"received": self.received, **{k: int(c.get(k, 0)) for k in COUNTERS},
                **{f"messages_{k}": self.messages[k] for k in ("received", "acked", "rejected", "stale", "read_pauses")},
                "log_suppressed": self.loglimit.suppressed_total, "mqtt_connects": self.connects}

    def stats_fields(self) -> dict[str, int]:
        rejected = self.rejected
        fields = self.counters()
        fields.update(rejected_total=sum(rejected.values()), pending_points=self.pipeline.pending_points,
                      pending_batches=self.pipeline.pending_batches, mqtt_connected=1 if self.connected else 0,
                      messages_inflight=self.inflight, messages_inflight_peak=self.inflight_peak,
                      points_rejected_total=sum(self.points_rejected.values()))
        fields.update({f"rejected_{k}": v for k, v in rejected.items()})
        return fields

    def stats_line_fields(self) -> dict[str, float]:
        """The ``collector`` measurement's fields: the counters plus the write latency since the last line."""
        return {**self.stats_fields(), **self.pipeline.write_latency.take_window()}

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.file.stats_interval)
            fields = self.stats_line_fields()
            line = self.encoder.line("collector", {"collector": self.name}, fields, time.time_ns())
            await self.pipeline.add_own([line.encode()])
            log.info("stats: %s", " ".join(f"{k}={v}" for k, v in fields.items() if v))

    # MQTT ---------------------------------------------------------------------------------------
    def _client(self) -> aiomqtt.Client:
        m = self.cfg.mqtt
        tls_context = client_tls_context(m.ca_file, m.cert_file, m.key_file) if m.tls or m.ca_file else None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        clean_start, props.SessionExpiryInterval = session(m)  # clean as a shared member (collector.scaleout)
        props.ReceiveMaximum = m.receive_maximum  # flow control: the broker keeps what we cannot take yet
        client = aiomqtt.Client(
            m.host, m.port, username=m.username or None,
            password=read_secret(m.password, m.password_file, f"{self.cfg.source}: mqtt.password_file", ConfigError),
            identifier=m.client_id, protocol=aiomqtt.ProtocolVersion.V5, clean_start=clean_start, properties=props,
            keepalive=m.keepalive, tls_context=tls_context,
            # no local limit: Receive Maximum bounds what the broker sends (aiomqtt's limit would discard)
            max_queued_incoming_messages=0,
        )
        client._client.manual_ack_set(True)  # PUBACK only after the write (see the module docstring)
        read_in_bursts(client._client, lambda: self._paused is not None)  # collector/read_burst.py
        deliver = client._client.on_message

        def count_receipt(*args: Any) -> None:  # counted as paho hands it over, before aiomqtt's queue
            self.messages["received"] += 1
            self.inflight += 1
            self.inflight_peak = max(self.inflight_peak, self.inflight)
            if deliver is not None:
                deliver(*args)
            if self.inflight > (m.receive_maximum if self._may_pause else _ceiling(m.receive_maximum)):
                self._pause_reading(client)

        client._client.on_message = count_receipt
        client.pending_calls_threshold = 10_000  # acks to many agents at once are normal
        return client

    def _pause_reading(self, client: aiomqtt.Client) -> None:
        """The broker sent more than our Receive Maximum (Mosquitto 2.0.11 does once PUBACKs flow): stop reading
        the socket until enough messages are PUBACKed, so memory stays bounded. Nothing is lost: what the broker
        cannot send waits there (TCP back-pressure), unacked."""
        sock = client._client.socket()
        if self._paused is None and sock is not None:
            asyncio.get_running_loop().remove_reader(sock)
            self._paused = sock
            self.messages["read_pauses"] += 1
            asyncio.get_running_loop().call_later(self.cfg.mqtt.keepalive / 2, self._pause_ran_out, client,
                                                  self.messages["read_pauses"])

    def _pause_ran_out(self, client: aiomqtt.Client, pause: int) -> None:
        """A pause lasted half the keepalive: nothing was PUBACKed meanwhile (InfluxDB down or stuck). Read again
        until the next PUBACK: paho must read PINGRESPs or it ends the session. Without PUBACKs the broker sends
        little more (measured: 33 in flight for a Receive Maximum of 4, with 108 waiting); beyond ``_ceiling``
        reading stops anyway (the session may then time out: the broker keeps every message, nothing is lost)."""
        if self._paused is not None and pause == self.messages["read_pauses"] and \
                self.inflight <= _ceiling(self.cfg.mqtt.receive_maximum):
            log.warning("no message PUBACKed for %.0fs with %d in flight: reading MQTT again until one is",
                        self.cfg.mqtt.keepalive / 2, self.inflight)
            self._may_pause = False
            self._resume_reading(client)

    def _resume_reading(self, client: aiomqtt.Client) -> None:
        sock, self._paused = self._paused, None
        if sock is not None and client._client.socket() is sock:
            client._on_socket_open(client._client, None, sock)  # aiomqtt's own reader callback, registered again

    def _puback(self, client: aiomqtt.Client, session: int, message: aiomqtt.Message) -> Callable[[bool], None]:
        """The ``done`` of one message: PUBACK it on the connection it came on (after a reconnect the broker
        sends it again, and that copy is acked instead)."""
        mid, qos = message.mid, message.qos
        acked = False

        def done(rejected: bool) -> None:
            nonlocal acked
            if acked:
                return
            acked = True
            if session != self._session:
                self.messages["stale"] += 1
                return
            self.inflight -= 1
            self._may_pause = self._subscribed  # progress: pause again when too many are in flight
            self.messages["rejected" if rejected else "acked"] += 1
            if qos > 0:
                client._client.ack(mid, qos)
            if self._paused is not None and self.inflight <= self.cfg.mqtt.receive_maximum:
                self._resume_reading(client)

        return done

    async def _mqtt_loop(self) -> None:
        m = self.cfg.mqtt
        backoff = Backoff(m.reconnect_min, m.reconnect_max)
        while True:
            try:
                async with self._client() as client:
                    self.connected = True
                    self.connects += 1
                    backoff.reset()
                    log.info("connected to mqtt %s:%d as %s", m.host, m.port, m.client_id)
                    for topic_filter in topic_filters(m):  # $share/<group>/... when shared (collector.scaleout)
                        await client.subscribe(topic_filter, qos=1)  # no pause until subscribed: SUBACKs are read
                    self._subscribed = self._may_pause = True
                    if self.inflight > m.receive_maximum:  # the session's messages came before the SUBACK
                        self._pause_reading(client)
                    self.acks.client = client
                    session = self._session
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes | bytearray):
                            payload = str(payload).encode()
                        await self.handle(str(message.topic), bytes(payload), self._puback(client, session, message))
            except Exception as exc:  # MQTT errors may arrive wrapped in an ExceptionGroup
                err = mqtt_error(exc)
                if err is None:
                    raise
                log.warning("mqtt: %s", err)
            finally:
                self.connected = False
                self.acks.client = None
                self._session += 1  # messages not yet PUBACKed come again on the next connection
                self.inflight = 0
                self._paused = None
                self._subscribed = self._may_pause = False
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
        if self.alerts is not None:
            self.alerts.add_routes(app)  # GET /ack (signed acknowledge links)
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
        self.blocker.load()  # blocks survive a restart
        try:
            async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as tg:
                if self.alerts is not None:
                    await stack.enter_async_context(self.alerts)  # loads/saves the alert state
                    tg.create_task(supervise("alerts", self.alerts.run))
                if self.feed is not None:
                    tg.create_task(supervise("alerts-feed", self.feed.run))
                if self.cfg.file.metrics_listen:
                    tg.create_task(self._serve_metrics())
                tg.create_task(supervise("mqtt", self._mqtt_loop))
                tg.create_task(supervise("pipeline", self.pipeline.run))
                tg.create_task(supervise("stats", self._stats_loop))
                tg.create_task(supervise("blocker", self.blocker.run))
        finally:
            await self.influx.close()
