"""Agent configuration: YAML -> typed, validated config. Unknown keys and bad values are errors
whose message names the file and the field (``agent.yaml: probes.ping.targets[0].host: ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec

from agent.config_meaning import meaning_problems
from agent.errors import ConfigError
from agent.probes import REGISTRY, ProbeConfig
from agent.units import ByteSize, Duration, dec_hook
from agent.wire import AGENT_ID_PATTERN
from common.config_collect import convert_collecting, format_problems, suggest
from common.secret_files import read_secret
from common.yaml_file import read_yaml

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
    connect_timeout: Duration = Duration(5)
    reconnect_min: Duration = Duration(1)
    reconnect_max: Duration = Duration(60)
    reachability_check: Duration = Duration(1)
    """While waiting to reconnect, try a TCP connect to the broker this often and reconnect as soon as it
    answers (a returning link is seen within seconds, not after the backoff); 0 turns the checks off."""


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
    """Every problem of the document is reported at once (one ConfigError, one line per problem)."""
    if data is None:
        raise ConfigError(f"{source}: the file is empty: it needs at least an agent section (agent: {{id: ...}})")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping of sections, got {type(data).__name__}")
    raw, problems = convert_collecting(data, _RawConfig, dec_hook=dec_hook)
    probes: dict[str, ProbeConfig] = {}
    bodies: dict[str, Any] = data["probes"] if isinstance(data.get("probes"), dict) else {}
    for name, body in bodies.items():
        probe_cls = REGISTRY.get(name)
        if body is not None and not isinstance(body, dict):
            continue  # reported by the top level already (expected a mapping)
        if probe_cls is None:
            problems.append((f"probes.{name}", f"unknown probe{suggest(str(name), sorted(REGISTRY))} "
                                               f"(known: {', '.join(sorted(REGISTRY))})"))
            continue
        probe, found = convert_collecting(body or {}, probe_cls.Config, f"probes.{name}", dec_hook=dec_hook)
        problems += found
        if probe is not None:
            probes[name] = probe
    problems += meaning_problems(data, raw, probes)
    if problems or raw is None:
        raise ConfigError(format_problems(source, problems))
    return AgentConfig(
        source=source, agent=raw.agent, mqtt=raw.mqtt, queue=raw.queue, log_level=raw.log_level.upper(),
        self_metrics_interval=float(raw.self_metrics_interval), probes=probes,
    )


def load_config(path: str | Path) -> AgentConfig:
    path = Path(path)
    cfg = parse_config(read_yaml(path, ConfigError), str(path))
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
