"""Agent configuration: YAML -> typed, validated config. Unknown keys and bad values are errors
whose message names the file and the field (``agent.yaml: probes.ping.targets[0].host: ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import yaml

from agent.errors import ConfigError
from agent.probes import REGISTRY, ProbeConfig
from agent.units import ByteSize, Duration, dec_hook
from agent.wire import AGENT_ID_PATTERN
from common.config_errors import describe_validation_error
from common.secret_files import read_secret

DEFAULT_CONFIG = Path(__file__).parent / "defaults" / "agent.yaml"


class AgentSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(pattern=AGENT_ID_PATTERN)]
    """The agent id: also its MQTT username. Lower-case letters, digits, '.', '_' and '-'."""


class TlsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure_skip_verify: bool = False


class MqttConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 1883
    username: str = ""
    """Defaults to the agent id."""
    password: str = ""
    password_file: str = ""
    tls: TlsConfig | None = None
    keepalive: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 15
    """Seconds. The broker publishes the agent's last will (status "offline") when it hears nothing for 1.5 x
    this: a cut link is an AgentOffline alert for a site gateway within ~25 s (docs/alerts.md)."""
    connect_timeout: Duration = Duration(10)
    reconnect_min: Duration = Duration(1)
    reconnect_max: Duration = Duration(60)


class QueueConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: str = ""
    """SQLite file of the store-and-forward queue; default <state_dir>/queue.sqlite."""
    max_bytes: ByteSize = ByteSize(64 * 1024 * 1024)
    max_age: Duration = Duration(7 * 86400)
    ack_timeout: Duration = Duration(60)
    """A batch sent but not acked for this long is sent again."""
    max_inflight: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    max_points_per_batch: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 1000
    flush_interval: Duration = Duration(1)
    """Points produced within this window travel in one batch."""


class _RawConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    agent: AgentSection
    mqtt: MqttConfig = msgspec.field(default_factory=MqttConfig)
    queue: QueueConfig = msgspec.field(default_factory=QueueConfig)
    log_level: str = "INFO"
    self_metrics_interval: Duration = Duration(30)
    """How often the agent publishes its own health (the ``agent`` measurement)."""
    probes: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


class AgentConfig(msgspec.Struct, kw_only=True):
    source: str
    agent: AgentSection
    mqtt: MqttConfig
    queue: QueueConfig
    log_level: str
    self_metrics_interval: float
    probes: dict[str, ProbeConfig]

    @property
    def agent_id(self) -> str:
        return self.agent.id


def parse_config(data: Any, source: str) -> AgentConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping of sections, got {type(data).__name__}")
    try:
        raw = msgspec.convert(data, _RawConfig, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        field, what = describe_validation_error(exc)
        raise ConfigError(f"{source}: {field}: {what}") from None
    probes: dict[str, ProbeConfig] = {}
    for name, body in raw.probes.items():
        probe_cls = REGISTRY.get(name)
        if probe_cls is None:
            raise ConfigError(f"{source}: probes.{name}: unknown probe (known: {', '.join(sorted(REGISTRY))})")
        try:
            probes[name] = msgspec.convert(body or {}, probe_cls.Config, dec_hook=dec_hook)
        except msgspec.ValidationError as exc:
            field, what = describe_validation_error(exc, f"probes.{name}")
            raise ConfigError(f"{source}: {field}: {what}") from None
    if raw.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{source}: log_level: expected DEBUG, INFO, WARNING or ERROR, got {raw.log_level!r}")
    if raw.mqtt.password and raw.mqtt.password_file:
        raise ConfigError(f"{source}: mqtt.password_file: set either password or password_file, not both")
    return AgentConfig(
        source=source, agent=raw.agent, mqtt=raw.mqtt, queue=raw.queue, log_level=raw.log_level.upper(),
        self_metrics_interval=float(raw.self_metrics_interval), probes=probes,
    )


def load_config(path: str | Path) -> AgentConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    cfg = parse_config(data, str(path))
    _relative_to(cfg, path.parent)
    return cfg


def _relative_to(cfg: AgentConfig, base: Path) -> None:
    """Relative credential paths in the mqtt section are relative to the config file's own directory,
    so an enrolled bundle (config, password, CA) works wherever it is copied."""

    def resolve(p: str) -> str:
        return str(base / p) if p and not Path(p).is_absolute() else p

    cfg.mqtt.password_file = resolve(cfg.mqtt.password_file)
    if cfg.mqtt.tls is not None:
        for field in ("ca_file", "cert_file", "key_file"):
            setattr(cfg.mqtt.tls, field, resolve(getattr(cfg.mqtt.tls, field)))


def mqtt_password(cfg: AgentConfig) -> str | None:
    return read_secret(cfg.mqtt.password, cfg.mqtt.password_file, f"{cfg.source}: mqtt.password_file", ConfigError)
