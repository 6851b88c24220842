"""The collector's alert service against a real Alertmanager: what it posts (endsAt, incidents first,
signed acknowledge links), silences read back (regex and negative matchers), state across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.wire import Point
from collector.alerts.acklink import AckSigner
from collector.alerts.alertmanager import AlertmanagerClient, Matcher
from collector.alerts.model import Alert
from collector.alerts.service import AlertService, ordered_for_post, silence_matches
from collector.config import load_config
from collector.errors import ConfigError
from tests.support.alert_stack import rules_file
from tests.support.alertmanager import AM, start_alertmanager

LABELS = {"alertname": "AgentOffline", "commune": "07900", "agent": "pc-01", "severity": "warning"}
SECRET = "s3cret-for-ack-links-0123456789"


def _silence(*matchers: dict[str, Any]) -> dict[str, Any]:
    return {"matchers": list(matchers)}


def _m(name: str, value: str, regex: bool = False, equal: bool = True) -> dict[str, Any]:
    return {"name": name, "value": value, "isRegex": regex, "isEqual": equal}


def test_silence_matchers_equal_regex_and_negative() -> None:
    assert silence_matches(_silence(_m("commune", "07900"), _m("alertname", "Agent.*", regex=True)), LABELS)
    assert not silence_matches(_silence(_m("commune", "079")), LABELS)
    assert not silence_matches(_silence(_m("alertname", "Agent", regex=True)), LABELS)  # anchored
    assert silence_matches(_silence(_m("severity", "critical", equal=False)), LABELS)
    assert not silence_matches(_silence(_m("severity", "warn.*", regex=True, equal=False)), LABELS)
    assert silence_matches(_silence(_m("site", "")), LABELS)  # a missing label is the empty string
    assert not silence_matches(_silence(), LABELS)


def test_incidents_are_posted_before_everything_else() -> None:
    now = datetime.now(UTC)
    symptom = Alert({"alertname": "PortalDown", "kind": "symptom"}, {}, now)
    incident = Alert({"alertname": "PortalIncident", "kind": "incident"}, {}, now)
    plain = Alert({"alertname": "DiskFull", "kind": "alert"}, {}, now)
    chunks = ordered_for_post([symptom, plain, incident])
    assert chunks == [[incident], [plain, symptom]]
    assert ordered_for_post([plain]) == [[plain]]


@pytest.fixture
def am(tmp_path: Path) -> Iterator[AM]:
    a = start_alertmanager(tmp_path / "am", "route:\n  receiver: x\nreceivers:\n  - name: x\n")
    yield a
    a.service.stop()


def _config(tmp_path: Path, am: AM, **alerts: Any) -> Path:
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"agents": {
        "pc-01": {"commune": "07900", "site": "tru-so-chinh"},
        "gw-01": {"commune": "07900", "site": "tru-so-chinh", "role": "gateway", "isp": "vnpt"}}}))
    (tmp_path / "ack-secret").write_text(SECRET + "\n")
    rules_file(tmp_path / "rules.yaml", absent="5s")
    cfg = {"inventory": "fleet.yaml", "alerts": {
        "enabled": True, "rules": "rules.yaml", "alertmanager_urls": [am.url], "repost_interval": 20,
        "ack_secret_file": "ack-secret", "public_url": "https://giamsat.example.vn/", **alerts}}
    (tmp_path / "collector.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "collector.yaml"


class Clock:
    def __init__(self) -> None:
        self.t = float(int(datetime.now(UTC).timestamp()))  # whole seconds: the API keeps milliseconds

    def __call__(self) -> float:
        return self.t


def _held(am: AM) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with AlertmanagerClient([am.url]) as c:
            return await c.alerts()
    return asyncio.run(go())


def test_silent_agent_is_posted_with_ends_at_ack_link_and_kept_across_a_restart(tmp_path: Path, am: AM) -> None:
    cfg = load_config(_config(tmp_path, am))
    assert cfg.inventory.agents["gw-01"].role == "gateway" and cfg.inventory.agents["gw-01"].isp == "vnpt"
    clock = Clock()

    async def first_run() -> list[Alert]:
        async with AlertService(cfg, tmp_path / "state", clock) as svc:
            svc.observe(cfg.inventory.agents["pc-01"], [Point(m="synthetic", t=int(clock.t * 1e9), f={"n": 1})])
            clock.t += 6  # pc-01 silent for 6 s > absent 5 s; gw-01 never sent (not a pc: rule is pc-only)
            return await svc.tick()

    alerts = asyncio.run(first_run())
    assert [a.labels["agent"] for a in alerts] == ["pc-01"]
    held = _held(am)
    assert len(held) == 1 and held[0]["labels"]["agent"] == "pc-01"
    ends = datetime.fromisoformat(held[0]["endsAt"].replace("Z", "+00:00"))
    assert ends == datetime.fromtimestamp(clock.t + 60, UTC)  # now + 3 x repost_interval (20 s)
    url = held[0]["annotations"]["ack_url"]
    assert url.startswith("https://giamsat.example.vn/ack?token=")
    token = url.split("token=", 1)[1].replace("%3D", "=")
    assert AckSigner(SECRET.encode()).verify(token)["agent"] == "pc-01"
    assert (tmp_path / "state" / "alert-state.json").exists()

    async def second_run() -> list[Alert]:
        async with AlertService(cfg, tmp_path / "state", clock) as svc:
            clock.t += 1
            return await svc.tick()

    again = asyncio.run(second_run())
    assert [a.starts_at for a in again] == [alerts[0].starts_at]


def test_a_matching_silence_counts_as_acknowledged(tmp_path: Path, am: AM) -> None:
    cfg = load_config(_config(tmp_path, am))
    clock = Clock()

    async def go() -> tuple[int, int]:
        async with AlertService(cfg, tmp_path / "state", clock) as svc:
            clock.t += 6
            await svc.tick()
            before = svc.counters.acknowledged
            await svc.client.create_silence([Matcher("agent", "pc-.*", is_regex=True)], datetime.now(UTC),
                                            datetime.now(UTC) + timedelta(hours=1), "test", "ack")
            await svc.refresh_silences()
            await svc.tick()
            return before, svc.counters.acknowledged

    assert asyncio.run(go()) == (0, 1)


def test_alerts_need_an_alertmanager_and_a_long_enough_secret(tmp_path: Path, am: AM) -> None:
    path = _config(tmp_path, am, alertmanager_urls=[])
    with pytest.raises(ConfigError, match="alertmanager_urls"):
        load_config(path)
    path = _config(tmp_path, am, repost_interval=120)
    with pytest.raises(ConfigError, match="repost_interval"):
        load_config(path)
    path = _config(tmp_path, am)
    (tmp_path / "ack-secret").write_text("short\n")
    with pytest.raises(ConfigError, match="ack_secret_file"):
        AlertService(load_config(path), tmp_path / "state")
