"""InfluxDB line protocol, with the escaping the spec requires and a per-series key cache.

measurement: escape ``,`` and space; tag keys/values and field keys: escape ``,``, ``=`` and space;
string field values: double-quoted with ``"`` and ``\\`` escaped. Integers get the ``i`` suffix; floats are
written with repr (always a decimal point or exponent, so InfluxDB keeps them floats); booleans true/false.
Tags are sorted by key (InfluxDB's canonical order, cheaper ingest). Empty tag values are left out;
trailing backslashes of keys and tag values are removed (InfluxDB 1.x rejects them in any form).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_MEAS = str.maketrans({",": r"\,", " ": r"\ ", "\n": " ", "\r": " ", "\t": " "})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\r": " ", "\t": " "})
_STR = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": " ", "\r": " "})


def escape_measurement(name: str) -> str:
    return name.translate(_MEAS)


def escape_key(text: str) -> str:
    """Tag keys, tag values and field keys. InfluxDB cannot parse one that ends in a backslash (it would
    escape the separator, and doubling it does not help), so trailing backslashes are removed."""
    return text.rstrip("\\").translate(_KEY)


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + str(value).translate(_STR) + '"'


class LineEncoder:
    """Encodes points; caches the escaped ``measurement,tags`` prefix per series."""

    def __init__(self, max_cache: int = 100_000) -> None:
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._keys: dict[str, str] = {}
        self._point_prefix: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self._max_cache = max_cache

    def series(self, measurement: str, tags: Iterable[tuple[str, str]]) -> str:
        key = (measurement, tuple(sorted(tags)))
        prefix = self._cache.get(key)
        if prefix is None:
            parts = [escape_measurement(measurement)]
            for k, v in key[1]:
                ev = escape_key(v)
                if ev:
                    parts.append(f"{escape_key(k)}={ev}")
            prefix = ",".join(parts)
            if len(self._cache) >= self._max_cache:
                self._cache.clear()
            self._cache[key] = prefix
        return prefix

    def point_line(self, agent: str, identity_tags: Mapping[str, str], measurement: str, tags: Mapping[str, str],
                   fields: Mapping[str, object], ts_ns: int) -> str:
        """Like ``line`` for an agent's point: the series prefix is cached by (agent, measurement, point tags)
        so the hot path does no merging or sorting of tags."""
        key = (agent, measurement, tuple(tags.items()))
        prefix = self._point_prefix.get(key)
        if prefix is None:
            if len(self._point_prefix) >= self._max_cache:
                self._point_prefix.clear()
            prefix = self._point_prefix[key] = self.series(measurement, {**tags, **identity_tags}.items())
        return self._with_fields(prefix, fields, ts_ns)

    def line(self, measurement: str, tags: Mapping[str, str], fields: Mapping[str, object], ts_ns: int) -> str:
        return self._with_fields(self.series(measurement, tags.items()), fields, ts_ns)

    def _with_fields(self, prefix: str, fields: Mapping[str, object], ts_ns: int) -> str:
        keys = self._keys
        parts = []
        for k, v in fields.items():
            ek = keys.get(k)
            if ek is None:
                if len(keys) >= self._max_cache:
                    keys.clear()
                ek = keys[k] = escape_key(k)
            t = type(v)
            if t is float:
                parts.append(f"{ek}={v!r}")
            elif t is int:
                parts.append(f"{ek}={v}i")
            else:
                parts.append(f"{ek}={format_value(v)}")
        return f"{prefix} {','.join(parts)} {ts_ns}"
