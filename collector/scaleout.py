"""Several collectors on one broker: MQTT shared subscriptions for the writes, a full stream for the alerts.

Writes (``mqtt.shared_group`` set): the collector subscribes ``$share/<group>/cm/v1/+/metrics`` (and the status
topic likewise), so the broker hands each message to one member of the group. Each member has its own
``client_id``. Mosquitto 2.0.11 keeps a shared member's persistent session after the member dies and goes on
routing the group's messages into it (queued for a client that may never come back), including the ones the
dead member had not PUBACKed. So a shared member connects with a *clean* session (clean start, session expiry
0): when it dies the broker drops its session and sends every new message to the members still connected; the
batches the dead member had in flight (not yet acked to the agent) stay in the agents' disk queues and are sent
again after ``ack_timeout``, reaching a survivor. Nothing is lost end to end and InfluxDB overwrites a point
written twice (same series and time), so a replay never adds a point. Acks to the agent go out on
``cm/v1/<agent>/ack`` from whichever collector wrote the batch.

Alerts: rule state (``for``, hysteresis, absence) and correlation need every message of every agent, and a
shared subscription spreads one agent's messages over the members. So a shared member with alerts enabled does
not feed its rule engine from its share: ``EvaluationFeed`` opens a second, plain (non-shared) subscription to
``cm/v1/+/metrics`` and only decodes, checks and observes (no writes, no acks). Every evaluator therefore sees
the full stream and reaches the same alerts; several evaluators post the same label sets to Alertmanager,
which deduplicates them into one notification (Prometheus HA style). See docs/scale-out.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector as _PromCollector

from agent import wire
from collector.config import AgentIdentity, MqttSection
from collector.errors import ConfigError
from collector.schema_check import PointRejected
from collector.validate import Validator
from common.backoff import Backoff
from common.mqtt import client_tls_context, mqtt_error
from common.secret_files import read_secret

if TYPE_CHECKING:
    from collector.alerts.service import AlertService

log = logging.getLogger("collector.scaleout")

KINDS = ("metrics", "status")
"""The agents' topics the writers consume."""


def topic_filters(m: MqttSection) -> list[str]:
    """The subscriptions of a writing collector: shared ones in a group, plain ones otherwise."""
    prefix = f"$share/{m.shared_group}/" if m.shared_group else ""
    return [f"{prefix}{wire.TOPIC_ROOT}/+/{kind}" for kind in KINDS]


def session(m: MqttSection) -> tuple[bool, int]:
    """(clean_start, session expiry in seconds): persistent alone, clean as a shared member (module docstring)."""
    if m.shared_group:
        return True, 0
    return False, int(m.session_expiry)


def evaluates_apart(m: MqttSection) -> bool:
    """True when the alert rules must be fed from their own full subscription, not from the writes' share."""
    return bool(m.shared_group)


def eval_client_id(m: MqttSection) -> str:
    return f"{m.client_id}-eval"


class EvaluationFeed:
    """A plain subscription to every agent's metrics for the alert rules only (decode, check, observe)."""

    def __init__(self, cfg: MqttSection, validator: Validator, alerts: AlertService, source: str = "") -> None:
        self.cfg = cfg
        self.validator = validator
        self.alerts = alerts
        self.source = source
        self.counts: Counter[str] = Counter()  # messages, points, rejected_messages, rejected_points
        self.connected = False

    def _client(self) -> aiomqtt.Client:
        m = self.cfg
        tls_context = client_tls_context(m.ca_file, m.cert_file, m.key_file) if m.tls or m.ca_file else None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0  # no backlog to catch up on: the agents' resends and the rules' timers
        props.ReceiveMaximum = m.receive_maximum
        return aiomqtt.Client(
            m.host, m.port, username=m.username or None,
            password=read_secret(m.password, m.password_file, f"{self.source}: mqtt.password_file", ConfigError),
            identifier=eval_client_id(m), protocol=aiomqtt.ProtocolVersion.V5, clean_start=True, properties=props,
            keepalive=m.keepalive, tls_context=tls_context, max_queued_incoming_messages=0,
        )

    def observe(self, topic: str, payload: bytes) -> None:
        """One message of the full stream: what the writers would accept goes to the rule engine."""
        self.counts["messages"] += 1
        try:
            identity, kind = self.validator.identify(topic)
            if kind == "status":  # the last will: the fast AgentOffline signal
                self.alerts.observe_status(identity, wire.decode_status(payload).state)
                return
            if kind != "metrics":
                return
            points = self._checked(identity, payload)
        except wire.WireError:
            self.counts["rejected_messages"] += 1
            return
        self.counts["points"] += len(points)
        self.alerts.observe(identity, points)

    def _checked(self, identity: AgentIdentity, payload: bytes) -> list[wire.Point]:
        batch = wire.decode_batch(payload)
        if batch.agent != identity.agent:
            raise wire.WireError("identity_mismatch", "payload agent differs from the topic's")
        v = self.validator
        now = v.clock_ns()
        shift = v.window.shift_ns(batch.clock_offset_ms)
        kept = []
        for p in map(wire.renames.upgrade, batch.points):  # an agent older than a rename
            try:
                v.checker.fields(p)
                v.window.place(p.t, shift, now)
            except PointRejected:
                self.counts["rejected_points"] += 1
                continue
            kept.append(p)
        return kept

    async def run(self) -> None:
        m = self.cfg
        backoff = Backoff(m.reconnect_min, m.reconnect_max)
        while True:
            try:
                async with self._client() as client:
                    self.connected = True
                    backoff.reset()
                    await client.subscribe(f"{wire.TOPIC_ROOT}/+/metrics", qos=1)
                    await client.subscribe(f"{wire.TOPIC_ROOT}/+/status", qos=1)
                    log.info("alert evaluation feed subscribed as %s", eval_client_id(m))
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes | bytearray):
                            payload = str(payload).encode()
                        self.observe(str(message.topic), bytes(payload))
            except Exception as exc:
                err = mqtt_error(exc)
                if err is None:
                    raise
                log.warning("alert evaluation feed: mqtt: %s", err)
            finally:
                self.connected = False
            await asyncio.sleep(backoff.next())


class FeedMetrics(_PromCollector):
    """The evaluation feed's counters on the collector's ``/metrics`` page."""

    def __init__(self, feed: EvaluationFeed) -> None:
        self.feed = feed

    def collect(self) -> Iterator[Metric]:
        c = self.feed.counts
        prefix = "commune_collector_alerts_feed_"
        yield CounterMetricFamily(prefix + "messages", "Messages of the full (non-shared) stream read for the "
                                  "alert rules.", value=c["messages"])
        yield CounterMetricFamily(prefix + "points", "Points handed to the alert rules by the feed.",
                                  value=c["points"])
        yield CounterMetricFamily(prefix + "rejected_messages", "Feed messages the rules did not see (invalid, "
                                  "unknown agent).", value=c["rejected_messages"])
        yield CounterMetricFamily(prefix + "rejected_points", "Feed points outside the schema or time window.",
                                  value=c["rejected_points"])
