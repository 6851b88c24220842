"""Keeping the agent's resident memory small on old office PCs (glibc Linux; elsewhere these do nothing).

- ``limit_malloc_arenas``: glibc gives every thread that allocates its own malloc arena (up to 8 x cores);
  the agent's few worker threads (DNS lookups, the MQTT connect) need no parallel allocator, so two arenas
  bound the memory they pin. Call it before the first worker thread starts.
- ``release_free_memory``: hand freed heap pages back to the kernel (``malloc_trim``); CPython's own small-
  object arenas are returned by CPython itself, this covers the C allocations (sqlite, msgspec buffers, TLS).
"""

from __future__ import annotations

import sys
from typing import Any

M_ARENA_MAX = -8  # glibc malloc.h
_libc: Any = None


def _glibc() -> Any:
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                lib = ctypes.CDLL(None)  # the process's own symbols: glibc's malloc when it is glibc
                if hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt"):
                    _libc = lib
            except OSError:
                pass
    return _libc


def limit_malloc_arenas(arenas: int = 2) -> bool:
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """True if memory was returned to the kernel."""
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0))
