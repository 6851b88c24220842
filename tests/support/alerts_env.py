"""Alerting test environment: a contacts file pointing at local sinks, a generated alertmanager.yml, and
alerts shaped like the collector's ``Alert.to_api()``."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml

from collector.alerts import amconfig
from collector.alerts.alertmanager import AlertmanagerClient, iso
from collector.alerts.contacts import load_contacts
from collector.config import parse_inventory
from collector.registry import communes

T = TypeVar("T")
PROVINCE_MAIL = "tinh@test.vn"
PROVINCE_CHAT = -100500


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def commune_codes(n: int) -> list[str]:
    return list(communes())[:n]


def commune_mail(code: str) -> str:
    return f"cntt-{code}@test.vn"


def write_config(root: Path, codes: Iterable[str], *, smtp_port: int, telegram_url: str = "",
                 zalo_url: str = "", group_wait: str = "1s") -> Path:
    """Generate alertmanager.yml (+ templates) into ``root`` for agents in ``codes``; return its path."""
    root.mkdir(parents=True, exist_ok=True)
    codes = list(codes)
    inventory = parse_inventory({"agents": {f"pc-{c}": {"commune": c, "site": "tru-so-chinh"} for c in codes}},
                                str(root / "fleet.yaml"))
    data: dict[str, Any] = {
        "province": {"email": [PROVINCE_MAIL]},
        "communes": {c: {"email": [commune_mail(c)]} for c in codes},
        "smtp": {"smarthost": f"127.0.0.1:{smtp_port}", "from": "giamsat@test.vn", "require_tls": False},
        "timing": {"group_wait": group_wait, "commune_group_wait": group_wait, "group_interval": "2s", "repeat_interval": "1h",
                   "province_repeat_interval": "1h"},
    }
    if telegram_url:
        (root / "bot-token").write_text("123456:TEST-TOKEN\n")
        data["telegram"] = {"bot_token_file": "bot-token", "api_url": telegram_url}
        data["province"]["telegram_chat_ids"] = [PROVINCE_CHAT]
        for i, c in enumerate(codes):
            data["communes"][c]["telegram_chat_ids"] = [1000 + i]
    if zalo_url:
        data["zalo"] = {"adapter_url": zalo_url}
        data["province"]["zalo_user_ids"] = ["900"]
        for i, c in enumerate(codes):
            data["communes"][c]["zalo_user_ids"] = [str(2000 + i)]
    (root / "contacts.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    amconfig.write(root, inventory, load_contacts(root / "contacts.yaml"))
    return root / "alertmanager.yml"


def alert(alertname: str, commune: str | None, *, kind: str = "alert", severity: str = "warning",
          site: str | None = "tru-so-chinh", incident_id: str | None = None, summary: str = "",
          description: str = "", starts: datetime | None = None, resolved: bool = False,
          **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    lab = {"alertname": alertname, "severity": severity, "province": "25", "kind": kind, **labels}
    if commune is not None:
        lab["commune"] = commune
        lab["commune_name"] = communes()[commune].name
        lab["scope"] = "site" if site else "commune"
    else:
        lab["scope"] = "province"
    if site and commune is not None:
        lab["site"] = site
    if incident_id:
        lab["incident_id"] = incident_id
    return {
        "labels": lab,
        "annotations": {"summary": summary or f"{alertname} tại {lab.get('commune_name', 'toàn tỉnh')}",
                        "description": description or "Kiểm tra thiết bị."},
        "startsAt": iso(starts or now - timedelta(minutes=1)),
        "endsAt": iso(now if resolved else now + timedelta(minutes=3)),
        "generatorURL": "http://127.0.0.1/alerts",
    }


def post(urls: list[str], alerts: list[dict[str, Any]]) -> dict[str, bool]:
    async def go() -> dict[str, bool]:
        async with AlertmanagerClient(urls, timeout=3) as client:
            return await client.post(alerts)
    return run(go())


def held_alerts(url: str, filters: list[str]) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with AlertmanagerClient([url], timeout=3) as client:
            return await client.alerts(filters)
    return run(go())
