"""Invalid configs are kept as test data (tests/data/invalid); each states the error it must produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import DEFAULT_CONFIG, load_config
from agent.errors import ConfigError
from agent.probes.http import CATALOGUE_DIR
from agent.probes.ping import PingConfig
from collector import config as cconfig
from collector.errors import ConfigError as CollectorConfigError
from tests.support.paths import INVALID as INVALID_DIR

INVALID = sorted(INVALID_DIR.glob("*.yaml"))


def _expected(path: Path) -> list[str]:
    """The full message the file states: ``# error: <file>: <field>: <what is wrong>`` on the first line,
    ``# error| <line>`` for each further line of a multi-line message; ``{agent_defaults}`` stands for the
    shipped catalogue folder. The loader prefixes the path it was given, so the file's folder is added."""
    header = path.read_text(encoding="utf-8").splitlines()
    assert header[0].startswith("# error: "), f"{path} must start with '# error: <message>'"
    lines = [header[0].removeprefix("# error: ")]
    lines += [h.removeprefix("# error|").removeprefix(" ") for h in header[1:] if h.startswith("# error|")]
    assert lines[0].startswith(f"{path.name}: "), f"{path}: the message must start with the file name"
    text = f"{path.parent}/" + "\n".join(lines)
    return text.replace("{agent_defaults}", str(CATALOGUE_DIR)).split("\n")


def _assert_message(path: Path, err: Exception) -> None:
    """The whole message, line by line (trailing blanks aside): file name, field path and what is wrong."""
    assert [ln.rstrip() for ln in str(err).split("\n")] == _expected(path)


@pytest.mark.parametrize("path", [p for p in INVALID if not p.name.startswith(("fleet-", "collector-", "contacts-"))],
                         ids=lambda p: p.name)
def test_invalid_agent_configs(path: Path) -> None:
    """Every agent config in tests/data/invalid (all probes) fails with exactly the message it states."""
    with pytest.raises(ConfigError) as err:
        load_config(path)
    _assert_message(path, err.value)


@pytest.mark.parametrize("path", [p for p in INVALID if p.name.startswith("fleet-")], ids=lambda p: p.name)
def test_invalid_inventories(path: Path) -> None:
    with pytest.raises(CollectorConfigError) as err:
        cconfig.load_inventory(path)
    _assert_message(path, err.value)


@pytest.mark.parametrize("path", [p for p in INVALID if p.name.startswith("collector-")], ids=lambda p: p.name)
def test_invalid_collector_configs(path: Path) -> None:
    with pytest.raises(CollectorConfigError) as err:
        cconfig.load_config(path)
    _assert_message(path, err.value)


def test_default_agent_config_loads_with_model_defaults() -> None:
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.agent_id == "local-agent"
    ping = cfg.probes["ping"]
    assert isinstance(ping, PingConfig)
    assert ping.count == 5 and ping.packet_timeout == 1.0  # default from the model
    assert cfg.queue.max_bytes == 64 * 2**20 and cfg.queue.max_age == 7 * 86400


def test_default_collector_config_and_inventory() -> None:
    cfg = cconfig.load_config(cconfig.DEFAULT_CONFIG)
    ident = cfg.inventory.get("local-agent")
    assert ident is not None
    assert ident.commune.name == "Phường Việt Trì"
    assert ident.tags()["commune"] == "07900"


def test_inventory_accepts_unpadded_codes() -> None:
    inv = cconfig.parse_inventory({"agents": {"pc-01": {"commune": 7900}}}, "x.yaml")
    assert inv.agents["pc-01"].commune.code == "07900"


def test_commune_site_template_validates_every_probe() -> None:
    from agent.probes import REGISTRY

    cfg = load_config(Path(DEFAULT_CONFIG).parent / "agent-commune-site.yaml")
    assert set(cfg.probes) == set(REGISTRY) - {"synthetic"}
    assert cfg.mqtt.tls is not None and cfg.mqtt.password_file
