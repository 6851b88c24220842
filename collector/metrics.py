"""The collector's own metrics in the Prometheus text format (``/metrics``), through prometheus_client.

A custom collector reads the live counters at scrape time, registered in a private ``CollectorRegistry``
per collector instance (so several can run in one process). Everything here is also written to InfluxDB
as the ``collector`` measurement; ``/metrics`` stays readable while InfluxDB is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector as _PromCollector

from collector.pipeline import COUNTERS

if TYPE_CHECKING:
    from collector.consume import Collector

PREFIX = "commune_collector_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_HELP = {
    "received": "MQTT messages received (metrics and status, valid or not).",
    "batches_accepted": "Agent batches that passed validation and were queued for InfluxDB.",
    "points_accepted": "Agent points that passed validation and were queued for InfluxDB.",
    "points_written": "Points InfluxDB accepted (agents' and the collector's own).",
    "batches_written": "Agent batches durably written (each is acked to its agent).",
    "acks_sent": "Ack messages published to agents.",
    "acks_failed": "Ack messages that could not be published (the agent resends; it is acked then).",
    "write_errors": "Failed InfluxDB writes (each is retried, or split when InfluxDB rejects the data).",
    "points_quarantined": "Points InfluxDB rejected for their content, kept in the quarantine file, by agent and "
                          "reason.",
    "seq_reused": "Batches whose sequence number was already seen with different content (dropped, logged).",
    "quarantine_dropped": "Quarantine records deleted when the capped quarantine file rotated.",
    "messages_received": "MQTT messages delivered to the collector (each is PUBACKed once written or rejected).",
    "messages_acked": "MQTT messages PUBACKed after their batch was written.",
    "messages_rejected": "MQTT messages PUBACKed after a final rejection (invalid, unknown agent ...).",
    "messages_stale": "Messages whose connection closed before their PUBACK (the broker delivers them again).",
    "log_suppressed": "Log lines suppressed by the per-kind rate limit.",
    "mqtt_connects": "MQTT connections the collector made (1 + reconnects).",
    "messages_read_pauses": "Times the collector stopped reading MQTT because the broker sent more than Receive "
                            "Maximum (resumed once enough messages were PUBACKed).",
    "duplicates_dropped": "Batches an agent sent again while the first copy was still pending.",
    "duplicates_reacked": "Batches an agent sent again after they were written: acked again, not rewritten.",
    "own_points": "Points the collector made itself (agent status, agent clock, its own stats).",
}


class CollectorMetrics(_PromCollector):
    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        c = self.collector
        counters = c.counters()
        for key in ("received", *COUNTERS, "messages_received", "messages_acked", "messages_rejected",
                    "messages_stale", "messages_read_pauses", "log_suppressed", "mqtt_connects"):
            if key != "points_quarantined":
                yield CounterMetricFamily(PREFIX + key, _HELP[key], value=counters[key])
        quarantined = CounterMetricFamily(PREFIX + "points_quarantined", _HELP["points_quarantined"],
                                          labels=["agent", "reason"])
        for (agent, reason), n in sorted(c.pipeline.stats.quarantined.items()):
            quarantined.add_metric([agent, reason], n)
        yield quarantined
        limited = CounterMetricFamily(PREFIX + "points_rejected", "Points refused by a per-agent limit, by agent and "
                                      "reason (rate_limited, series_limit); their batch is acked.",
                                      labels=["agent", "reason"])
        for (agent, reason), n in sorted(c.points_rejected.items()):
            limited.add_metric([agent, reason], n)
        yield limited
        blocked = GaugeMetricFamily(PREFIX + "influx_write_blocked", "1 while InfluxDB refuses every write for this "
                                    "reason (unauthorized, forbidden, not_found ...): data is kept, nothing acked.",
                                    labels=["reason"])
        for reason, v in sorted(c.pipeline.blocked.items()):
            blocked.add_metric([reason], v)
        yield blocked
        yield GaugeMetricFamily(PREFIX + "messages_inflight", "MQTT messages received and not yet PUBACKed (at most "
                                "mqtt.receive_maximum).", value=c.inflight)
        yield GaugeMetricFamily(PREFIX + "messages_inflight_peak", "The highest messages_inflight since start.",
                                value=c.inflight_peak)
        series = GaugeMetricFamily(PREFIX + "agent_series", "Series the collector has seen per agent (limited by "
                                   "limits.max_series).", labels=["agent"])
        for agent in sorted(c.last_seen):
            series.add_metric([agent], c.limits.series_count(agent))
        yield series
        rejected = CounterMetricFamily(PREFIX + "rejected", "Messages rejected, by agent (from the topic) and reason.",
                                       labels=["agent", "reason"])
        for (agent, reason), n in sorted(c.rejected_by_agent.items()):
            rejected.add_metric([agent, reason], n)
        yield rejected
        skewed = CounterMetricFamily(PREFIX + "clock_skewed", "Batches whose agent clock was off by more than "
                                     "clock_skew_max.", labels=["agent"])
        for agent, n in sorted(c.clock_skewed.items()):
            skewed.add_metric([agent], n)
        yield skewed
        yield GaugeMetricFamily(PREFIX + "pending_points", "Points waiting for InfluxDB (queued or being written).",
                                value=c.pipeline.pending_points)
        yield GaugeMetricFamily(PREFIX + "pending_batches", "Batches waiting for a write.",
                                value=c.pipeline.pending_batches)
        yield GaugeMetricFamily(PREFIX + "mqtt_connected", "1 while connected to the MQTT broker.",
                                value=1 if c.connected else 0)
        seen = GaugeMetricFamily(PREFIX + "agent_last_seen_seconds", "When a valid message of the agent last "
                                 "arrived (unix seconds).", labels=["agent"])
        for agent, t in sorted(c.last_seen.items()):
            seen.add_metric([agent], t)
        yield seen
        latency = c.pipeline.write_latency
        yield HistogramMetricFamily(PREFIX + "influx_write_seconds", "How long InfluxDB took to answer a write "
                                    "(2xx or an HTTP error; writes without an answer count as write_errors).",
                                    buckets=latency.cumulative(), sum_value=latency.total_seconds)
