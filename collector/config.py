"""Collector configuration and the fleet inventory (agent id -> commune, site), validated on load.

Every error names the file and the field, e.g. ``fleet.yaml: agents.pc-01.commune: commune code '99999'
is not a commune of province 25 (Phú Thọ)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from agent.wire import AGENT_ID_PATTERN, is_valid_agent_id
from collector.alerts.settings import AlertsSection
from collector.blocking import BlockSection
from collector.errors import ConfigError
from collector.limits import LimitsSection
from collector.registry import PHU_THO, Commune, communes, normalise_code
from collector.retention_config import RetentionSection
from common.config_errors import describe_validation_error
from common.yaml_file import read_yaml

Seconds = Annotated[float, msgspec.Meta(gt=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
DEFAULT_CONFIG = Path(__file__).parent / "defaults" / "collector.yaml"


class MqttSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: Port = 1883
    username: str = ""
    password: str = ""
    password_file: str = ""
    client_id: str = "commune-collector"
    """Fixed, so the broker keeps the collector's session (and its QoS 1 messages) across restarts."""
    session_expiry: Seconds = 7 * 86400
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    tls: bool = False
    keepalive: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    reconnect_min: Seconds = 1.0
    reconnect_max: Seconds = 30.0
    receive_maximum: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 500
    """MQTT 5 Receive Maximum: QoS 1 messages the broker sends before the collector PUBACKs one. The collector
    PUBACKs a message only once its batch is written (or finally rejected), so the broker keeps the rest."""
    shared_group: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{0,64}$")] = ""
    """Non-empty: share the agents' messages with the other collectors of this group (MQTT shared subscription
    ``$share/<group>/cm/v1/+/metrics``); each needs its own ``client_id``. See docs/scale-out.md."""


class InfluxSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str = "http://127.0.0.1:8086"
    api: Literal["v1", "v2"] = "v1"
    database: str = "commune_monitor"
    """v1: database; v2: used as the bucket when ``bucket`` is empty, and for InfluxQL reads (DBRP)."""
    username: str = ""
    password: str = ""
    token: str = ""
    token_file: str = ""
    org: str = ""
    bucket: str = ""
    timeout: Seconds = 10.0
    batch_points: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 5000
    flush_interval: Seconds = 0.2
    max_pending_points: Annotated[int, msgspec.Meta(ge=1000)] = 200_000
    """When this many points wait for InfluxDB, the collector stops reading MQTT (back-pressure)."""
    create_database: bool = True
    quarantine_max_bytes: Annotated[int, msgspec.Meta(ge=4096)] = 32 * 1024 * 1024
    """The quarantine file is rotated beyond this size (one older file is kept): at most ~2x on disk."""


class CollectorFileConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    province: int = PHU_THO
    inventory: str = "fleet.yaml"
    """Fleet inventory file; a relative path is relative to this config file."""
    mqtt: MqttSection = msgspec.field(default_factory=MqttSection)
    influx: InfluxSection = msgspec.field(default_factory=InfluxSection)
    clock_skew_max: Seconds = 30.0
    """Agents whose clock differs from the collector's by more than this are flagged, and their points' times are
    corrected by the offset (docs/architecture.md, "Time window")."""
    max_point_age: Seconds = 7 * 86400.0 + 3600.0
    """Points older than this (after the clock correction) are rejected ``too_old``: the agent queue's default
    ``max_age`` (7 days) plus a 1 h margin."""
    max_future: Seconds = 300.0
    """Points further ahead of the collector's clock than this (after the correction) are rejected ``in_future``."""
    stats_interval: Seconds = 10.0
    metrics_listen: str = ""
    """host:port for a Prometheus-format /metrics page of the collector's own counters (empty: off).
    Readable while InfluxDB is down, when the ``collector`` measurement cannot be written."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    alerts: AlertsSection = msgspec.field(default_factory=AlertsSection)
    """Alert rules evaluated by the collector, posted to Alertmanager (see docs/alerts.md)."""
    limits: LimitsSection = msgspec.field(default_factory=LimitsSection)
    """Per-agent limits (points/s, new series per hour, total series); see docs/operator-guide.md."""
    block: BlockSection = msgspec.field(default_factory=BlockSection)
    """Blocking at the broker of an agent that stays over its limits (collector/blocking.py)."""
    log_lines_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 10
    """Per kind of repeated warning (per agent where it names one); the rest are counted and suppressed."""
    retention: RetentionSection = msgspec.field(default_factory=RetentionSection)
    """InfluxDB retention policies and rollups (collector/retention_config.py, docs/config-reference.md)."""


class AgentEntry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    commune: str | int
    site: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "main"
    name: str = ""
    """Human label (e.g. "Máy một cửa 1")."""
    role: Literal["pc", "gateway"] = "pc"
    """``gateway``: the site's always-on monitor (its silence alerts at any hour); ``pc``: an office PC."""
    isp: str = ""
    """The site's ISP (e.g. "vnpt"), for ISP outage correlation."""


class _RawInventory(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    agents: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


@dataclass(frozen=True)
class AgentIdentity:
    agent: str
    commune: Commune
    site: str
    name: str
    role: str = "pc"
    isp: str = ""

    def tags(self) -> dict[str, str]:
        return {"province": str(self.commune.province_code), "commune": self.commune.code,
                "commune_name": self.commune.name, "site": self.site, "agent": self.agent}


@dataclass(frozen=True)
class Inventory:
    source: str
    agents: dict[str, AgentIdentity]

    def get(self, agent_id: str) -> AgentIdentity | None:
        return self.agents.get(agent_id)


@dataclass(frozen=True)
class CollectorConfig:
    source: str
    file: CollectorFileConfig
    inventory: Inventory

    @property
    def mqtt(self) -> MqttSection:
        return self.file.mqtt

    @property
    def influx(self) -> InfluxSection:
        return self.file.influx


def _read_yaml(path: Path) -> Any:
    return read_yaml(path, ConfigError)


def _convert(data: Any, type_: type[Any], source: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping, got {type(data).__name__}")
    try:
        return msgspec.convert(data, type_)
    except msgspec.ValidationError as exc:
        field, what = describe_validation_error(exc)
        raise ConfigError(f"{source}: {field}: {what}") from None


def parse_inventory(data: Any, source: str, province: int = PHU_THO) -> Inventory:
    raw: _RawInventory = _convert(data, _RawInventory, source)
    try:
        known = communes(province)
    except KeyError as exc:
        raise ConfigError(f"{source}: province: {exc.args[0]}") from None
    agents = {}
    for agent_id, body in raw.agents.items():
        if not is_valid_agent_id(agent_id):
            raise ConfigError(f"{source}: agents.{agent_id}: agent id must match {AGENT_ID_PATTERN}")
        try:
            entry = msgspec.convert(body or {}, AgentEntry)
        except msgspec.ValidationError as exc:
            field, what = describe_validation_error(exc, f"agents.{agent_id}")
            raise ConfigError(f"{source}: {field}: {what}") from None
        code = normalise_code(entry.commune)
        commune = known.get(code)
        if commune is None:
            pname = next(iter(known.values())).province_name if known else str(province)
            raise ConfigError(
                f"{source}: agents.{agent_id}.commune: commune code {entry.commune!r} is not a commune of "
                f"province {province} ({pname})"
            )
        agents[agent_id] = AgentIdentity(agent_id, commune, entry.site, entry.name, entry.role, entry.isp)
    return Inventory(source, agents)


def load_inventory(path: Path, province: int = PHU_THO) -> Inventory:
    return parse_inventory(_read_yaml(path), str(path), province)


def load_config(path: str | Path) -> CollectorConfig:
    path = Path(path)
    fc: CollectorFileConfig = _convert(_read_yaml(path), CollectorFileConfig, str(path))
    inv_path = Path(fc.inventory)
    if not inv_path.is_absolute():
        inv_path = path.parent / inv_path
    return CollectorConfig(str(path), fc, load_inventory(inv_path, fc.province))

