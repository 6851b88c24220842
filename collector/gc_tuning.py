"""Garbage-collector settings for the collector's steady state.

Every decoded point makes a few short-lived container objects (its field and tag dicts, key tuples), so CPython's
default first-generation threshold (700 allocations) runs a young collection every few hundred points, and each
full collection walks every object alive since start-up (modules, the inventory, caches): ~10% of the collector's
CPU at full ingest (perf, ``bench.collector_throughput``). ``tune`` moves what start-up built out of the
collector's reach (``gc.freeze``) and collects young objects less often. Reference cycles are still collected;
memory held by cycles between collections grows by at most ``YOUNG_THRESHOLD`` objects.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 20_000
"""Allocations (minus deallocations) of container objects between young collections (CPython's default: 700)."""


def tune() -> None:
    """Call once start-up is done, in the collector's own process (``collector run``, not a library user such as
    a test): freeze the start-up objects and collect young objects less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
