"""Communes of a province, read from ``vietnam-provinces`` directly (the agent does not import the collector)."""

from __future__ import annotations

from functools import lru_cache

PHU_THO = 25


@lru_cache(maxsize=4)
def communes(province_code: int = PHU_THO) -> tuple[str, list[tuple[str, str]]]:
    """(province name, [(five-digit commune code, name)] sorted by code). Raises KeyError for an unknown code."""
    from vietnam_provinces import Province, ProvinceCode, Ward

    try:
        province = Province.from_code(ProvinceCode(province_code))
    except ValueError:
        raise KeyError(f"unknown province code {province_code}") from None
    rows = sorted((f"{int(w.code):05d}", str(w.name)) for w in Ward.iter_by_province(province.code))
    return str(province.name), rows
