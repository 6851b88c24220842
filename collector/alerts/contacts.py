"""The contacts file: who receives alerts, on which channel, and how the channels are reached.

Validated on load; every error names the file and the field, e.g.
``contacts.yaml: communes.07900.email[0]: 'an@' is not an e-mail address``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec

from collector.errors import ConfigError
from collector.registry import PHU_THO, Commune, communes, normalise_code
from common.config_errors import describe_validation_error
from common.yaml_file import read_yaml

EMAIL_RE = re.compile(r"^[^@\s<>]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
DURATION_RE = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
HOSTPORT_RE = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class Recipients(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str = ""
    """Who they are, for people reading the file (e.g. "Cán bộ CNTT phường")."""
    email: list[str] = msgspec.field(default_factory=list)
    telegram_chat_ids: list[int] = msgspec.field(default_factory=list)
    zalo_user_ids: list[str] = msgspec.field(default_factory=list)

    def empty(self) -> bool:
        return not (self.email or self.telegram_chat_ids or self.zalo_user_ids)


class SmtpSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    smarthost: NonEmpty
    """host:port of the mail relay."""
    sender: NonEmpty = msgspec.field(name="from")
    hello: str = "localhost"
    auth_username: str = ""
    auth_password_file: str = ""
    require_tls: bool = True


class TelegramSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    bot_token_file: NonEmpty
    """File holding the bot token. Alertmanager 0.25 has no bot_token_file, so the generator reads it and
    writes the token into alertmanager.yml (written readable by its owner only)."""
    api_url: str = ""
    """Empty: Telegram's own https://api.telegram.org."""


class ZaloSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    adapter_url: NonEmpty
    """The Zalo adapter's webhook URL, e.g. http://127.0.0.1:9095/alertmanager."""


class TimingSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    group_wait: str = "30s"
    commune_group_wait: str = "10s"
    """group_wait of the commune routes: a commune hears of its own fault quickly. Storms are grouped by the
    collector's correlation (symptoms are marked before they are first posted), not by waiting."""
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    province_repeat_interval: str = "1h"


class _RawContacts(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    province: Recipients
    communes: dict[str, Any] = msgspec.field(default_factory=dict)
    smtp: SmtpSection | None = None
    telegram: TelegramSection | None = None
    zalo: ZaloSection | None = None
    timing: TimingSection = msgspec.field(default_factory=TimingSection)


@dataclass(frozen=True)
class Contacts:
    source: str
    province: Recipients
    communes: dict[str, tuple[Commune, Recipients]]
    smtp: SmtpSection | None
    telegram: TelegramSection | None
    zalo: ZaloSection | None
    timing: TimingSection


def _check_recipients(r: Recipients, where: str, source: str) -> None:
    for i, addr in enumerate(r.email):
        if not EMAIL_RE.match(addr):
            raise ConfigError(f"{source}: {where}.email[{i}]: {addr!r} is not an e-mail address")
    for i, uid in enumerate(r.zalo_user_ids):
        if not uid.isdigit():
            raise ConfigError(f"{source}: {where}.zalo_user_ids[{i}]: {uid!r} is not a Zalo user id (digits only)")
    for i, chat in enumerate(r.telegram_chat_ids):
        if chat == 0:
            raise ConfigError(f"{source}: {where}.telegram_chat_ids[{i}]: 0 is not a Telegram chat id")


def parse_contacts(data: Any, source: str, province: int = PHU_THO) -> Contacts:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping, got {type(data).__name__}")
    try:
        raw = msgspec.convert(data, _RawContacts, str_keys=True)
    except msgspec.ValidationError as exc:
        field, what = describe_validation_error(exc)
        raise ConfigError(f"{source}: {field}: {what}") from None
    known = communes(province)
    _check_recipients(raw.province, "province", source)
    if raw.province.empty():
        raise ConfigError(f"{source}: province: the provincial team needs at least one e-mail address, "
                          "Telegram chat id or Zalo user id")
    out: dict[str, tuple[Commune, Recipients]] = {}
    for key, body in raw.communes.items():
        try:
            rec = msgspec.convert(body or {}, Recipients)
        except msgspec.ValidationError as exc:
            field, what = describe_validation_error(exc, f"communes.{key}")
            raise ConfigError(f"{source}: {field}: {what}") from None
        code = normalise_code(key)
        commune = known.get(code)
        if commune is None:
            pname = next(iter(known.values())).province_name if known else str(province)
            raise ConfigError(f"{source}: communes.{key}: commune code {key!r} is not a commune of province "
                              f"{province} ({pname})")
        _check_recipients(rec, f"communes.{key}", source)
        out[code] = (commune, rec)
    every = [raw.province, *(r for _, r in out.values())]
    if any(r.email for r in every) and raw.smtp is None:
        raise ConfigError(f"{source}: smtp: required because e-mail addresses are listed")
    if any(r.telegram_chat_ids for r in every) and raw.telegram is None:
        raise ConfigError(f"{source}: telegram: required because Telegram chat ids are listed")
    if any(r.zalo_user_ids for r in every) and raw.zalo is None:
        raise ConfigError(f"{source}: zalo: required because Zalo user ids are listed")
    if raw.smtp is not None:
        if not HOSTPORT_RE.match(raw.smtp.smarthost):
            raise ConfigError(f"{source}: smtp.smarthost: {raw.smtp.smarthost!r} must be host:port")
        if not EMAIL_RE.match(raw.smtp.sender):
            raise ConfigError(f"{source}: smtp.from: {raw.smtp.sender!r} is not an e-mail address")
    if raw.zalo is not None and not raw.zalo.adapter_url.startswith(("http://", "https://")):
        raise ConfigError(f"{source}: zalo.adapter_url: {raw.zalo.adapter_url!r} must be an http(s) URL")
    if raw.telegram is not None and raw.telegram.api_url and not raw.telegram.api_url.startswith(
            ("http://", "https://")):
        raise ConfigError(f"{source}: telegram.api_url: {raw.telegram.api_url!r} must be an http(s) URL")
    for name in ("group_wait", "commune_group_wait", "group_interval", "repeat_interval", "province_repeat_interval"):
        value = getattr(raw.timing, name)
        if not DURATION_RE.match(value):
            raise ConfigError(f"{source}: timing.{name}: {value!r} is not a duration like 30s, 5m or 4h")
    return Contacts(source, raw.province, out, raw.smtp, raw.telegram, raw.zalo, raw.timing)


def load_contacts(path: str | Path, province: int = PHU_THO) -> Contacts:
    path = Path(path)
    return parse_contacts(read_yaml(path, ConfigError), str(path), province)
