"""Names the schema changed, old -> new (docs/architecture.md, "Schema changes"), so the collector can accept
points from agents not yet upgraded: ``upgrade(point)`` rewrites an old point to the current names."""

from __future__ import annotations

from typing import Final

from agent.wire import Point

RENAMED_FIELDS: Final[dict[str, dict[str, str]]] = {
    # schema content version 2: units in the names, like rss_bytes / uptime_s
    "host": {"mem_total": "mem_total_bytes", "mem_available": "mem_available_bytes", "mem_used": "mem_used_bytes",
             "boot_time": "boot_time_s"},
    "host_disk": {"total": "total_bytes", "used": "used_bytes", "free": "free_bytes"},
}
DROPPED_TAGS: Final[dict[str, frozenset[str]]] = {
    # schema content version 2: ``label`` duplicated ``service`` (the configured name); display names stay local
    "http": frozenset({"label"}),
}


def upgrade(point: Point) -> Point:
    """``point`` with old field names renamed and dropped tags removed (the same object when nothing changes)."""
    renamed = RENAMED_FIELDS.get(point.m)
    dropped = DROPPED_TAGS.get(point.m)
    needs_fields = renamed is not None and not renamed.keys().isdisjoint(point.f)
    needs_tags = dropped is not None and not dropped.isdisjoint(point.tg)
    if not (needs_fields or needs_tags):
        return point
    fields = {renamed.get(k, k): v for k, v in point.f.items()} if renamed else point.f
    tags = {k: v for k, v in point.tg.items() if k not in dropped} if dropped else point.tg
    return Point(m=point.m, t=point.t, f=fields, tg=tags)
