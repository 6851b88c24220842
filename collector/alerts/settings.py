"""The ``alerts:`` section of the collector config (validated with the rest of it; see
docs/config-reference.md). Escalation times are per rule (``escalate_after`` in the rules file)."""

from __future__ import annotations

from typing import Annotated

import msgspec

Seconds = Annotated[float, msgspec.Meta(gt=0)]


class AlertsSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = False
    rules: str = ""
    """Rules file (relative paths: relative to the collector config); empty: the shipped default rules."""
    alertmanager_urls: list[str] = msgspec.field(default_factory=list)
    """Base URLs of every Alertmanager of the cluster (``http://127.0.0.1:9093``); alerts go to all of them."""
    evaluate_interval: Seconds = 5.0
    """How often the rules are evaluated on time (an agent that stops sending is noticed this way)."""
    repost_interval: Annotated[float, msgspec.Meta(gt=0, le=60)] = 30.0
    """Firing alerts are re-posted this often, with endsAt = now + 3 x this (an Alertmanager restart loses
    nothing)."""
    silences_interval: Seconds = 30.0
    """How often Alertmanager's silences are read (acknowledged alerts do not escalate)."""
    state_file: str = ""
    """Rule state kept across restarts; empty: ``<state dir>/alert-state.json``."""
    save_interval: Seconds = 30.0
    timeout: Seconds = 5.0
    """Per call to one Alertmanager."""
    ack_secret_file: str = ""
    """HMAC secret (>= 16 bytes) for signed acknowledge links; empty: no ``ack_url`` in alerts."""
    public_url: str = ""
    """Base URL people reach the collector's HTTP server at (``https://giamsat.example.vn``); the
    acknowledge link is ``<public_url>/ack?token=...``. Needs ``metrics_listen`` to serve /ack."""
    ack_silence: Seconds = 4 * 3600.0
    """How long an acknowledgement (link or ``commune-collector ack``) silences the alert."""
    generator_url: str = ""
    """``generatorURL`` of every alert (e.g. the dashboard); empty: none."""

    def __post_init__(self) -> None:
        if self.enabled and not self.alertmanager_urls:
            raise ValueError("alerts.enabled needs at least one entry in alerts.alertmanager_urls")
        for url in self.alertmanager_urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"alertmanager_urls: {url!r} is not an http(s) URL")
