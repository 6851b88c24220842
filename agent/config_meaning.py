"""Checks of an agent config that types alone cannot express: values that parse but cannot work
(an interval of 0 s, no probe at all, a ping probe with nothing to ping)."""

from __future__ import annotations

from typing import Any

from agent.probes import ProbeConfig
from agent.probes.ping import PingConfig
from common.config_collect import Problem


def meaning_problems(data: dict[str, Any], raw: Any, probes: dict[str, ProbeConfig]) -> list[Problem]:
    """``raw`` is the converted top level (or None when it had errors); ``probes`` the probes that converted."""
    out: list[Problem] = []
    if "probes" in data and not data["probes"]:
        out.append(("probes", "no probe configured: add at least one (for example host or ping)"))
    if raw is not None:
        if raw.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            out.append(("log_level", f"expected DEBUG, INFO, WARNING or ERROR, got {raw.log_level!r}"))
        if raw.mqtt.password and raw.mqtt.password_file:
            out.append(("mqtt.password_file", "set either password or password_file, not both"))
        if raw.self_metrics_interval <= 0:
            out.append(("self_metrics_interval", "must be more than 0s"))
        if raw.queue.flush_interval <= 0:
            out.append(("queue.flush_interval", "must be more than 0s"))
    for name, probe in probes.items():
        if probe.interval <= 0:
            out.append((f"probes.{name}.interval", f"must be more than 0s, got {probe.interval:g}s"))
        if probe.timeout <= 0:
            out.append((f"probes.{name}.timeout", f"must be more than 0s, got {probe.timeout:g}s"))
        if isinstance(probe, PingConfig) and probe.enabled and not probe.targets and not probe.gateway:
            out.append((f"probes.{name}.targets", "nothing to ping: add targets (each with a host) or set gateway: true"))
    return out
