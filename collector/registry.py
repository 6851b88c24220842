"""Official commune/ward codes and names from the ``vietnam-provinces`` package (post-2025 two-level units)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

PHU_THO = 25


@dataclass(frozen=True)
class Commune:
    code: str  # five digits, zero-padded, e.g. "07900"
    name: str  # with diacritics, e.g. "Phường Việt Trì"
    province_code: int
    province_name: str


@lru_cache(maxsize=8)
def communes(province_code: int = PHU_THO) -> dict[str, Commune]:
    """All communes and wards of a province by five-digit code. Raises KeyError for an unknown province."""
    from vietnam_provinces import Province, ProvinceCode, Ward

    try:
        province = Province.from_code(ProvinceCode(province_code))
    except ValueError:
        raise KeyError(f"unknown province code {province_code}") from None
    return {
        f"{int(w.code):05d}": Commune(f"{int(w.code):05d}", w.name, province_code, province.name)
        for w in Ward.iter_by_province(province.code)
    }


def normalise_code(code: str | int) -> str:
    return f"{int(code):05d}" if str(code).isdigit() else str(code)
