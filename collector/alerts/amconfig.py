"""Generate alertmanager.yml (and its Vietnamese templates file) from the fleet inventory and the contacts file.

Routing (see docs/alerting-delivery.md):
- province-wide incidents (``kind="incident"`` without a ``commune`` label) -> the provincial team only;
- ``severity="critical"`` or ``escalated="true"`` -> the provincial team, with ``continue: true`` so the
  commune's own route below also gets them;
- ``commune="<code>"`` -> that commune's contacts (a commune without contacts falls back to the province);
- anything else -> the provincial team (the root receiver).
Inhibition: an incident (``kind="incident"``) mutes its symptoms (``kind="symptom"``) with the same
``incident_id``. Nothing cluster-specific is written: HA is a matter of ``--cluster.*`` flags.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from collector.alerts.contacts import Contacts, Recipients
from collector.config import Inventory
from collector.errors import ConfigError

TEMPLATE_FILE = Path(__file__).parent / "templates" / "commune-monitor.tmpl"
GROUP_BY = ["alertname", "commune", "site", "incident_id"]
PROVINCE = "province"


def commune_receiver(code: str) -> str:
    return f"commune-{code}"


@dataclass
class Generated:
    config: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def yaml(self) -> str:
        return yaml.safe_dump(self.config, allow_unicode=True, sort_keys=False, width=1000)


def _receiver(name: str, rec: Recipients, contacts: Contacts, telegram_token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if rec.email and contacts.smtp is not None:
        smtp = contacts.smtp
        email: dict[str, Any] = {
            "to": ", ".join(rec.email), "send_resolved": True,
            "headers": {"Subject": '{{ template "cm.email.subject" . }}'},
            "html": "", "text": '{{ template "cm.email.text" . }}',
        }
        if smtp.auth_username:
            email["auth_username"] = smtp.auth_username
        if smtp.auth_password_file:
            email["auth_password_file"] = smtp.auth_password_file
        out["email_configs"] = [email]
    if rec.telegram_chat_ids and contacts.telegram is not None:
        tg = []
        for chat in rec.telegram_chat_ids:
            cfg: dict[str, Any] = {"bot_token": telegram_token or "", "chat_id": chat, "send_resolved": True,
                                   "parse_mode": "", "message": '{{ template "cm.telegram.message" . }}'}
            if contacts.telegram.api_url:
                cfg["api_url"] = contacts.telegram.api_url
            tg.append(cfg)
        out["telegram_configs"] = tg
    if rec.zalo_user_ids and contacts.zalo is not None:
        sep = "&" if "?" in contacts.zalo.adapter_url else "?"
        url = f"{contacts.zalo.adapter_url}{sep}to={','.join(rec.zalo_user_ids)}"
        out["webhook_configs"] = [{"url": url, "send_resolved": True, "max_alerts": 0}]
    return out


def generate(inventory: Inventory, contacts: Contacts, *, templates: str = "commune-monitor.tmpl",
             telegram_token: str | None = None) -> Generated:
    """The alertmanager.yml content as a mapping. ``templates`` is the path written under ``templates:``
    (relative paths are relative to alertmanager.yml)."""
    if contacts.telegram is not None and not telegram_token:
        raise ConfigError(f"{contacts.source}: telegram.bot_token_file: the bot token is empty or was not read")
    warnings: list[str] = []
    t = contacts.timing
    glob: dict[str, Any] = {"resolve_timeout": "5m"}
    if contacts.smtp is not None:
        glob.update({"smtp_smarthost": contacts.smtp.smarthost, "smtp_from": contacts.smtp.sender,
                     "smtp_hello": contacts.smtp.hello, "smtp_require_tls": contacts.smtp.require_tls})
    receivers = [_receiver(PROVINCE, contacts.province, contacts, telegram_token)]
    province_route = {"receiver": PROVINCE, "repeat_interval": t.province_repeat_interval}
    routes: list[dict[str, Any]] = [
        {**province_route, "matchers": ['kind="incident"', 'commune=""']},
        {**province_route, "matchers": ['severity="critical"'], "continue": True},
        {**province_route, "matchers": ['escalated="true"', 'severity!="critical"'], "continue": True},
    ]
    in_fleet = sorted({a.commune.code: a.commune for a in inventory.agents.values()}.items())
    for code, commune in in_fleet:
        if code not in contacts.communes or contacts.communes[code][1].empty():
            warnings.append(f"{inventory.source}: commune {code} ({commune.name}) has agents but no contacts in "
                            f"{contacts.source}: its alerts go to the provincial team")
    for code, (_commune, rec) in sorted(contacts.communes.items()):
        if rec.empty():
            continue
        receivers.append(_receiver(commune_receiver(code), rec, contacts, telegram_token))
        routes.append({"receiver": commune_receiver(code), "matchers": [f'commune="{code}"'],
                       "group_wait": t.commune_group_wait})
    config: dict[str, Any] = {
        "global": glob,
        "templates": [templates],
        "route": {"receiver": PROVINCE, "group_by": GROUP_BY, "group_wait": t.group_wait,
                  "group_interval": t.group_interval, "repeat_interval": t.repeat_interval, "routes": routes},
        "inhibit_rules": [
            {"source_matchers": ['kind="incident"'], "target_matchers": ['kind="symptom"'],
             "equal": ["incident_id"]},
        ],
        "receivers": receivers,
    }
    return Generated(config, warnings)


def read_bot_token(contacts: Contacts) -> str | None:
    if contacts.telegram is None:
        return None
    path = Path(contacts.telegram.bot_token_file)
    if not path.is_absolute():
        path = Path(contacts.source).parent / path
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{contacts.source}: telegram.bot_token_file: cannot read {path}: "
                          f"{exc.strerror or exc}") from None
    if not token:
        raise ConfigError(f"{contacts.source}: telegram.bot_token_file: {path} is empty")
    return token


def write(out_dir: Path, inventory: Inventory, contacts: Contacts) -> Generated:
    """Write ``alertmanager.yml`` (mode 0600: it may hold the Telegram bot token) and the templates file
    into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmpl = out_dir / TEMPLATE_FILE.name
    shutil.copyfile(TEMPLATE_FILE, tmpl)
    gen = generate(inventory, contacts, templates=str(tmpl.resolve()), telegram_token=read_bot_token(contacts))
    target = out_dir / "alertmanager.yml"
    tmp = target.with_suffix(".yml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# Generated by Commune Monitor from the fleet inventory and the contacts file. Do not edit.\n")
        fh.write(gen.yaml())
    tmp.replace(target)
    return gen
