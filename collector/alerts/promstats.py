"""The alerting counters on the collector's ``/metrics`` page (registered on the same registry)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as _PromCollector

if TYPE_CHECKING:
    from collector.alerts.service import AlertService

PREFIX = "commune_collector_alerts_"


class AlertMetrics(_PromCollector):
    def __init__(self, service: AlertService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        c = self.service.counters
        yield CounterMetricFamily(PREFIX + "evaluations", "Rule evaluations on the timer.", value=c.evaluations)
        posts = CounterMetricFamily(PREFIX + "posts", "Alert posts to each Alertmanager.", labels=["alertmanager"])
        failures = CounterMetricFamily(PREFIX + "post_failures", "Alert posts an Alertmanager did not accept.",
                                       labels=["alertmanager"])
        for url, st in sorted(self.service.client.stats.items()):
            posts.add_metric([url], st.posts)
            failures.add_metric([url], st.failures)
        yield posts
        yield failures
        yield CounterMetricFamily(PREFIX + "silence_reads_failed", "Reads of the silences that failed on every "
                                  "Alertmanager.", value=c.silence_reads_failed)
        yield GaugeMetricFamily(PREFIX + "firing", "Alerts firing at the last evaluation.", value=c.firing)
        yield GaugeMetricFamily(PREFIX + "acknowledged", "Firing alerts covered by an Alertmanager silence.",
                                value=c.acknowledged)
        yield GaugeMetricFamily(PREFIX + "resolved_shown", "Recently resolved alerts still posted with endsAt.",
                                value=c.resolved_shown)
