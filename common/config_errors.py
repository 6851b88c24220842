"""Config validation messages: msgspec's error -> (field path, what is wrong), for messages that name the
file and the field, e.g. ``agent.yaml: probes.ping.targets[0].host: Expected `str`, got `int```."""

from __future__ import annotations

import re

import msgspec

_UNKNOWN_RE = re.compile(r"^Object contains unknown field `([^`]+)`(?: - at `\$(.*)`)?$")
_AT_RE = re.compile(r"^(.*) - at `\$(.*)`$")
_MISSING_RE = re.compile(r"^Object missing required field `([^`]+)`(?: - at `\$(.*)`)?$")


def describe_validation_error(exc: msgspec.ValidationError, prefix: str = "") -> tuple[str, str]:
    """msgspec's message -> (field path like ``probes.ping.targets[0].host``, what is wrong)."""
    text = str(exc)
    for regex, what in ((_UNKNOWN_RE, "unknown key"), (_MISSING_RE, "required key is missing")):
        m = regex.match(text)
        if m:
            return _join(prefix, (m.group(2) or "").lstrip("."), m.group(1)), what
    m = _AT_RE.match(text)
    if m:
        return _join(prefix, m.group(2).lstrip(".")), m.group(1)
    return prefix or "(top level)", text


def _join(*parts: str) -> str:
    out = ""
    for part in parts:
        if not part:
            continue
        out = part if not out else (out + part if part.startswith("[") else f"{out}.{part}")
    return out or "(top level)"
