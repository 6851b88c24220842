"""InfluxDB line protocol, with the escaping the spec requires and a per-series key cache.

measurement: escape ``,`` and space; tag keys/values and field keys: escape ``,``, ``=`` and space;
string field values: double-quoted with ``"`` and ``\\`` escaped. Integers get the ``i`` suffix; floats are
written with repr (always a decimal point or exponent, so InfluxDB keeps them floats); booleans true/false.
Tags are sorted by key (InfluxDB's canonical order, cheaper ingest). Empty tag values are left out;
trailing backslashes of keys and tag values are removed (InfluxDB 1.x rejects them in any form).

The caches are bounded: least recently used entries go first beyond ``max_cache`` entries, and a series
whose escaped prefix is longer than ``max_cached_bytes`` is encoded every time instead of cached, so a
hostile agent's long tags cannot make the caches large (``max_cache`` x ``max_cached_bytes`` at most).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import TypeVar

K = TypeVar("K")

_MEAS = str.maketrans({",": r"\,", " ": r"\ ", "\n": " ", "\r": " ", "\t": " "})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\r": " ", "\t": " "})
_STR = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": " ", "\r": " "})
STRING_ESCAPES = _STR
"""The translation table of string field values (inside the double quotes)."""


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


def series_prefix(measurement: str, sorted_tags: Iterable[tuple[str, str]]) -> str:
    """The escaped ``measurement,tags`` of a series (tags sorted by key; empty values left out), uncached."""
    parts = [escape_measurement(measurement)]
    for k, v in sorted_tags:
        ev = escape_key(v)
        if ev:
            parts.append(f"{escape_key(k)}={ev}")
    return ",".join(parts)


def _remember(cache: OrderedDict[K, str], key: K, value: str, max_entries: int, max_bytes: int) -> None:
    if len(value) > max_bytes:
        return
    cache[key] = value
    if len(cache) > max_entries:
        cache.popitem(last=False)


class LineEncoder:
    """Encodes points; caches the escaped ``measurement,tags`` prefix per series (LRU, bounded)."""

    def __init__(self, max_cache: int = 20_000, max_cached_bytes: int = 1024) -> None:
        self._cache: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], str] = OrderedDict()
        self._keys: OrderedDict[str, str] = OrderedDict()
        self._point_prefix: OrderedDict[tuple[str, str, tuple[tuple[str, str], ...]], str] = OrderedDict()
        self._max_cache = max_cache
        self._max_bytes = max_cached_bytes

    def cache_sizes(self) -> tuple[int, int]:
        """(entries, characters) held by the caches."""
        caches: list[OrderedDict[object, str]] = [self._cache, self._keys, self._point_prefix]  # type: ignore[list-item]
        return sum(len(c) for c in caches), sum(len(v) for c in caches for v in c.values())

    def series(self, measurement: str, tags: Iterable[tuple[str, str]]) -> str:
        key = (measurement, tuple(sorted(tags)))
        prefix = self._cache.get(key)
        if prefix is None:
            prefix = series_prefix(measurement, key[1])
            _remember(self._cache, key, prefix, self._max_cache, self._max_bytes)
        else:
            self._cache.move_to_end(key)
        return prefix

    def point_line(self, agent: str, identity_tags: Mapping[str, str], measurement: str, tags: Mapping[str, str],
                   fields: Mapping[str, object], ts_ns: int) -> str:
        """Like ``line`` for an agent's point: the series prefix is cached by (agent, measurement, point tags)
        so the hot path does no merging or sorting of tags."""
        return self._with_fields(self.point_prefix(agent, identity_tags, measurement, tags), fields, ts_ns)

    def point_prefix(self, agent: str, identity_tags: Mapping[str, str], measurement: str,
                     tags: Mapping[str, str]) -> str:
        """The escaped ``measurement,tags`` of an agent's point (cached by agent, measurement and point tags)."""
        key = (agent, measurement, tuple(tags.items()))
        prefix = self._point_prefix.get(key)
        if prefix is None:
            prefix = self.series(measurement, {**tags, **identity_tags}.items())
            _remember(self._point_prefix, key, prefix, self._max_cache, self._max_bytes)
        else:
            self._point_prefix.move_to_end(key)
        return prefix

    def line(self, measurement: str, tags: Mapping[str, str], fields: Mapping[str, object], ts_ns: int) -> str:
        return self._with_fields(self.series(measurement, tags.items()), fields, ts_ns)

    def _with_fields(self, prefix: str, fields: Mapping[str, object], ts_ns: int) -> str:
        keys = self._keys
        parts = []
        for k, v in fields.items():
            ek = keys.get(k)
            if ek is None:
                ek = escape_key(k)
                _remember(keys, k, ek, self._max_cache, self._max_bytes)
            t = type(v)
            if t is float:
                parts.append(f"{ek}={v!r}")
            elif t is int:
                parts.append(f"{ek}={v}i")
            else:
                parts.append(f"{ek}={format_value(v)}")
        return f"{prefix} {','.join(parts)} {ts_ns}"
