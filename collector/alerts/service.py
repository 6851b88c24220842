"""The alerting side of the running collector: the rule engine fed by accepted batches and a timer, its
alerts posted to every Alertmanager, silences read back (acknowledged alerts do not escalate), state kept
across restarts, signed acknowledge links.

Use as ``async with AlertService(cfg, state_dir) as svc:`` then run ``svc.run()`` as a task; call
``svc.observe(identity, points)`` for each accepted batch.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from agent.wire import Point
from collector.alerts.acklink import AckSigner, ack_handler
from collector.alerts.alertmanager import AlertmanagerClient, AlertmanagerError
from collector.alerts.engine import Engine
from collector.alerts.history import AlertHistory
from collector.alerts.model import Alert
from collector.alerts.rules import DEFAULT_RULES, load_rules
from collector.alerts.series import Subject
from collector.config import AgentIdentity, CollectorConfig
from collector.errors import ConfigError
from common.secret_files import read_secret

log = logging.getLogger("collector.alerts")

_KIND_ORDER = {"incident": 0, "alert": 1, "symptom": 2}
STATUS_FIELDS = ("online", "state")
"""Fields of the ``agent_status`` points the collector feeds the rules (from the agents' MQTT status)."""


def subject_of(identity: AgentIdentity) -> Subject:
    c = identity.commune
    return Subject(identity.agent, c.code, c.name, str(c.province_code), identity.site, identity.role, identity.isp)


def _matcher_ok(m: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    value = labels.get(str(m.get("name", "")), "")
    want = str(m.get("value", ""))
    if m.get("isRegex"):
        try:
            hit = re.fullmatch(want, value) is not None
        except re.error:
            return False
    else:
        hit = value == want
    return hit if m.get("isEqual", True) else not hit


def silence_matches(silence: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether an Alertmanager silence (API form) covers an alert with these labels (all matchers hold)."""
    matchers = silence.get("matchers") or []
    return bool(matchers) and all(_matcher_ok(m, labels) for m in matchers)


def ordered_for_post(alerts: Iterable[Alert]) -> list[list[Alert]]:
    """Incidents in a post of their own, before everything else (the inhibitor must exist before a
    symptom could be notified); then alerts and symptoms."""
    ordered = sorted(alerts, key=lambda a: _KIND_ORDER.get(a.labels.get("kind", "alert"), 1))
    first = [a for a in ordered if a.labels.get("kind") == "incident"]
    rest = [a for a in ordered if a.labels.get("kind") != "incident"]
    return [chunk for chunk in (first, rest) if chunk]


@dataclass
class AlertCounters:
    evaluations: int = 0
    posts: int = 0
    post_failures: int = 0
    silence_reads_failed: int = 0
    firing: int = 0
    resolved_shown: int = 0
    acknowledged: int = 0


def rules_path(cfg: CollectorConfig) -> Path:
    rules = cfg.file.alerts.rules
    if not rules:
        return DEFAULT_RULES
    return Path(rules) if Path(rules).is_absolute() else Path(cfg.source).parent / rules


class AlertService:
    def __init__(self, cfg: CollectorConfig, state_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.settings = cfg.file.alerts
        base = Path(cfg.source).parent
        self.ruleset = load_rules(rules_path(cfg))
        self.engine = Engine(self.ruleset, silenced=self._is_silenced)
        self.state_path = Path(self.settings.state_file) if self.settings.state_file else state_dir / "alert-state.json"
        if not self.state_path.is_absolute() and self.settings.state_file:
            self.state_path = base / self.state_path
        self.client = AlertmanagerClient(list(self.settings.alertmanager_urls), timeout=self.settings.timeout)
        self.signer: AckSigner | None = None
        if self.settings.ack_secret_file:
            path = Path(self.settings.ack_secret_file)
            secret = read_secret("", str(path if path.is_absolute() else base / path),
                                 f"{cfg.source}: alerts.ack_secret_file", ConfigError)
            try:
                self.signer = AckSigner((secret or "").encode())
            except ValueError as exc:
                raise ConfigError(f"{cfg.source}: alerts.ack_secret_file: {exc}") from None
        self.clock = clock
        self.counters = AlertCounters()
        self.silences: list[dict[str, Any]] = []
        self._last_post = 0.0
        self._last_sent: dict[str, tuple[str | None, tuple[tuple[str, str], ...]]] = {}
        self.history = AlertHistory()
        self.write_own: Callable[[list[bytes]], Awaitable[None]] | None = None
        """Where resolved alerts go as ``alerts`` points (the collector sets its pipeline's ``add_own``)."""

    # lifecycle ----------------------------------------------------------------------------------
    async def __aenter__(self) -> AlertService:
        now = self._now()
        try:
            if self.engine.load(self.state_path):
                log.info("alert state restored from %s (%d series)", self.state_path, len(self.engine.series))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("alert state %s not usable (%s); starting fresh", self.state_path, exc)
        for identity in self.cfg.inventory.agents.values():
            self.engine.register(subject_of(identity), now)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            self.save()
        finally:
            await self.client.close()

    def save(self) -> None:
        try:
            self.engine.save(self.state_path)
        except OSError as exc:
            log.warning("cannot save alert state to %s: %s", self.state_path, exc)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # input --------------------------------------------------------------------------------------
    def observe(self, identity: AgentIdentity, points: Iterable[Point]) -> None:
        self.engine.observe(subject_of(identity), points, self._now())

    def observe_status(self, identity: AgentIdentity, state: str) -> None:
        """The agent's retained MQTT status (``online``, or ``offline`` from its last will: published by the
        broker as soon as the connection drops or its keepalive expires) as an ``agent_status`` point, timed by
        the collector's clock (a last will carries the time it was set, not the time of the drop)."""
        now = self.clock()
        point = Point(m="agent_status", t=int(now * 1e9), f={"online": 1 if state == "online" else 0, "state": state})
        self.engine.observe(subject_of(identity), [point], datetime.fromtimestamp(now, UTC))

    # silences -----------------------------------------------------------------------------------
    def _is_silenced(self, alert: Alert) -> bool:
        return any(silence_matches(s, alert.labels) for s in self.silences)

    async def refresh_silences(self) -> None:
        try:
            self.silences = await self.client.silences(active_only=True)
        except AlertmanagerError as exc:
            self.counters.silence_reads_failed += 1
            log.warning("cannot read silences: %s", exc)

    # output -------------------------------------------------------------------------------------
    def _decorate(self, alert: Alert, now: float) -> Alert:
        annotations = alert.annotations
        if self.signer is not None and self.settings.public_url:
            hour = now - now % 3600  # a stable link for an hour: annotations do not churn every evaluation
            url = self.signer.make_url(self.settings.public_url.rstrip("/") + "/ack", alert.labels, hour)
            annotations = {**annotations, "ack_url": url}
        ends = alert.ends_at
        if ends is None:
            ends = datetime.fromtimestamp(now + 3 * self.settings.repost_interval, UTC)
        return replace(alert, annotations=annotations, ends_at=ends,
                       generator_url=self.settings.generator_url or alert.generator_url)

    async def tick(self) -> list[Alert]:
        """One evaluation; posts when the alert set changed or the repost interval passed. Returns what
        the engine has active (firing and recently resolved)."""
        now = self.clock()
        alerts = self.engine.evaluate(datetime.fromtimestamp(now, UTC))
        self.counters.evaluations += 1
        self.counters.firing = sum(1 for a in alerts if a.ends_at is None)
        self.counters.resolved_shown = len(alerts) - self.counters.firing
        self.counters.acknowledged = sum(1 for a in alerts if a.ends_at is None and self._is_silenced(a))
        shape = {a.fingerprint: (a.ends_at.isoformat() if a.ends_at else None, tuple(sorted(a.labels.items())))
                 for a in alerts}
        due = now - self._last_post >= self.settings.repost_interval
        if alerts and (due or shape != self._last_sent):
            ok = await self.post([self._decorate(a, now) for a in alerts])
            self._last_post = now if ok else 0.0  # a member down: try again at the next evaluation
        self._last_sent = shape
        history = self.history.resolved_lines(alerts)
        if history and self.write_own is not None:
            await self.write_own(history)
        return alerts

    async def post(self, alerts: list[Alert]) -> bool:
        """Post to every member (incidents first); False when some member did not accept."""
        all_ok = True
        for chunk in ordered_for_post(alerts):
            results = await self.client.post(chunk)
            self.counters.posts += len(results)
            failed = [u for u, ok in results.items() if not ok]
            self.counters.post_failures += len(failed)
            all_ok = all_ok and not failed
        return all_ok

    async def _evaluate_loop(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.settings.evaluate_interval)

    async def _silences_loop(self) -> None:
        while True:
            await self.refresh_silences()
            await asyncio.sleep(self.settings.silences_interval)

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.save_interval)
            self.save()  # in the loop: the engine is not thread-safe

    async def run(self) -> None:
        await self.refresh_silences()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._evaluate_loop())
            tg.create_task(self._silences_loop())
            tg.create_task(self._save_loop())

    # HTTP ---------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """``GET /ack?token=...`` (signed acknowledge links), when an ack secret is configured."""
        if self.signer is not None:
            app.router.add_get("/ack", ack_handler(self.signer, self.client,
                                                   timedelta(seconds=self.settings.ack_silence)))
