"""Find communes by code or by name, with or without Vietnamese diacritics ("viet tri" finds "Việt Trì")."""

from __future__ import annotations

import unicodedata

from collector.registry import PHU_THO, Commune, communes, normalise_code


def fold(text: str) -> str:
    """Lower-case ASCII form of Vietnamese text: diacritics dropped, đ -> d."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def search(query: str = "", province: int = PHU_THO) -> list[Commune]:
    """Communes whose code equals the query (``8542`` -> ``08542``) or whose name holds every word of it,
    diacritics ignored. An empty query lists every commune. Sorted by code."""
    all_communes = communes(province)
    q = query.strip()
    if q.isdigit():
        hit = all_communes.get(normalise_code(q))
        return [hit] if hit else []
    words = fold(q).split()
    return [c for _, c in sorted(all_communes.items()) if all(w in fold(c.name) for w in words)]


def render(rows: list[Commune]) -> str:
    return "".join(f"{c.code}  {c.name}\n" for c in rows)
