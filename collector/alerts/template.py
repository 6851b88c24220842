"""A tiny safe template for alert texts: ``{name}`` is replaced, nothing else is evaluated.

Known names: see ``NAMES``; ``{tag_<tag>}`` is a tag of the last point (e.g. ``{tag_device}``).
``{{`` and ``}}`` are literal braces. Unknown names are rejected when the rules are loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

NAMES = frozenset({
    "province", "commune", "commune_name", "site", "agent", "target", "service", "service_name", "isp", "value",
    "threshold",
    "since", "duration", "rule", "count", "communes", "sites",
})
_TOKEN_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def check_template(text: str) -> None:
    """Raise ValueError naming the first unknown placeholder or stray brace."""
    for m in _TOKEN_RE.finditer(text):
        token = m.group(0)
        if token in ("{{", "}}"):
            continue
        name = m.group(1)
        if name is None:
            raise ValueError(f"unbalanced brace at position {m.start()} (write {{{{ or }}}} for a literal brace)")
        if not _NAME_RE.match(name) or (name not in NAMES and not name.startswith("tag_")):
            raise ValueError(f"unknown placeholder {{{name}}}; known: {', '.join(sorted(NAMES))}, tag_<tag>")


def render(text: str, values: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        return values.get(name, "?") if name is not None else token

    return _TOKEN_RE.sub(sub, text)
