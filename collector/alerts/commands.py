"""What the alerting subcommands of ``commune-collector`` do (the CLI only parses arguments):
``alertmanager-config``, ``maintenance``, ``ack``, ``silences``, ``zalo-adapter``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import msgspec

from collector.alerts import amconfig, silences
from collector.alerts.alertmanager import AlertmanagerClient
from collector.alerts.contacts import load_contacts
from collector.alerts.model import fingerprint_of
from collector.alerts.zalo import ZaloSettings
from collector.config import CollectorConfig
from collector.errors import ConfigError
from common.config_errors import describe_validation_error
from common.yaml_file import read_yaml

_DUR = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    m = _DUR.match(text.strip())
    if not m:
        raise ConfigError(f"duration {text!r}: expected a number with s, m, h or d, e.g. 90m or 2h")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def urls_of(cfg: CollectorConfig, given: Sequence[str]) -> list[str]:
    urls = list(given) or list(cfg.file.alerts.alertmanager_urls)
    if not urls:
        raise ConfigError(f"{cfg.source}: alerts.alertmanager_urls is empty; pass --alertmanager URL")
    return urls


def alertmanager_config(cfg: CollectorConfig, contacts: Path, out_dir: Path) -> Path:
    amconfig.write(out_dir, cfg.inventory, load_contacts(contacts, cfg.file.province))
    return out_dir / "alertmanager.yml"


def maintenance(urls: list[str], commune: str, duration: timedelta, site: str | None, reason: str,
                created_by: str) -> str:
    async def go() -> str:
        async with AlertmanagerClient(urls) as client:
            try:
                return await silences.maintenance_window(client, commune, duration, site=site,
                                                         created_by=created_by, reason=reason)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    return asyncio.run(go())


def parse_labels(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"label {item!r}: expected name=value")
        out[key] = value
    return out


async def _find_alert(client: AlertmanagerClient, fingerprint: str) -> dict[str, str]:
    """Labels of the alert whose Alertmanager fingerprint or Commune Monitor fingerprint is ``fingerprint``."""
    for alert in await client.alerts():
        labels = {str(k): str(v) for k, v in alert.get("labels", {}).items()}
        if fingerprint in (alert.get("fingerprint"), fingerprint_of(labels)):
            return labels
    raise ConfigError(f"no alert with fingerprint {fingerprint!r} in Alertmanager")


def ack(urls: list[str], fingerprint: str | None, labels: dict[str, str], duration: timedelta, created_by: str,
        comment: str) -> tuple[str, dict[str, str]]:
    async def go() -> tuple[str, dict[str, str]]:
        async with AlertmanagerClient(urls) as client:
            picked = await _find_alert(client, fingerprint) if fingerprint else labels
            try:
                sid = await silences.acknowledge(client, picked, duration, created_by=created_by, comment=comment)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            return sid, picked
    return asyncio.run(go())


def list_silences(urls: list[str], all_states: bool) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with AlertmanagerClient(urls) as client:
            return await client.silences(active_only=not all_states)
    return asyncio.run(go())


def render_silences(rows: list[dict[str, Any]]) -> str:
    out = [f"{'id':36} {'state':8} {'ends (UTC)':20} {'by':16} matchers / comment"]
    for s in sorted(rows, key=lambda r: str(r.get("endsAt", ""))):
        ms = " ".join(f"{m['name']}{'' if m.get('isEqual', True) else '!'}{'=~' if m.get('isRegex') else '='}"
                      f"{m['value']!r}" for m in s.get("matchers", []))
        out.append(f"{s.get('id', ''):36} {s.get('status', {}).get('state', ''):8} {str(s.get('endsAt', ''))[:19]:20} "
                   f"{str(s.get('createdBy', ''))[:16]:16} {ms}  # {s.get('comment', '')}")
    return "\n".join(out)


# --- the Zalo adapter's settings file ----------------------------------------------------------------------

class ZaloFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``zalo-adapter.yaml``: see docs/alerting-delivery.md (Zalo adapter)."""

    app_id: Annotated[str, msgspec.Meta(min_length=1)]
    secret_key_file: Annotated[str, msgspec.Meta(min_length=1)]
    token_file: Annotated[str, msgspec.Meta(min_length=1)]
    """JSON with access_token / refresh_token (rewritten on every refresh)."""
    listen: str = "127.0.0.1:9095"
    api_base: str = "https://openapi.zalo.me"
    oauth_base: str = "https://oauth.zaloapp.com"
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3


def load_zalo_settings(path: Path) -> tuple[ZaloSettings, str, int]:
    data = read_yaml(path, ConfigError) or {}
    try:
        raw = msgspec.convert(data, ZaloFile)
    except msgspec.ValidationError as exc:
        field, what = describe_validation_error(exc)
        raise ConfigError(f"{path}: {field}: {what}") from None

    def rel(p: str) -> Path:
        return Path(p) if Path(p).is_absolute() else path.parent / p

    try:
        secret = rel(raw.secret_key_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: secret_key_file: cannot read {raw.secret_key_file}: {exc.strerror}") from None
    host, _, port = raw.listen.rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"{path}: listen: expected host:port, got {raw.listen!r}")
    settings = ZaloSettings(raw.app_id, secret, rel(raw.token_file), api_base=raw.api_base,
                            oauth_base=raw.oauth_base, timeout=raw.timeout, retries=raw.retries)
    return settings, host or "127.0.0.1", int(port)


def now_utc() -> datetime:
    return datetime.now(UTC)
