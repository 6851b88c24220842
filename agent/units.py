"""Durations and byte sizes accepted in config files: numbers (seconds, bytes) or strings like "30s", "5m", "64MiB"."""

from __future__ import annotations

import re
from typing import Any

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


class Duration(float):
    """Seconds. Config accepts 10, 2.5, "500ms", "30s", "5m", "2h", "7d"."""


class ByteSize(int):
    """Bytes. Config accepts 1048576, "64MiB", "1GB"."""


def parse_duration(value: Any) -> Duration:
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '30s', got {value!r}")
    if isinstance(value, int | float):
        return Duration(value)
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            return Duration(float(m.group(1)) * _DURATION_UNITS[m.group(2)])
    raise ValueError(f"expected a duration like '30s', '5m', '7d', got {value!r}")


def parse_size(value: Any) -> ByteSize:
    if isinstance(value, bool):
        raise ValueError(f"expected a size like '64MiB', got {value!r}")
    if isinstance(value, int):
        return ByteSize(value)
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if m:
            return ByteSize(int(float(m.group(1)) * _SIZE_UNITS[m.group(2)]))
    raise ValueError(f"expected a size like '64MiB' or a number of bytes, got {value!r}")


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec decode hook for the custom config types."""
    if type_ is Duration:
        return parse_duration(obj)
    if type_ is ByteSize:
        return parse_size(obj)
    raise NotImplementedError(f"unsupported config type {type_!r}")
