"""Keeping the agent's resident memory small on old office PCs (glibc Linux; elsewhere these do nothing).

- ``limit_malloc_arenas``: glibc gives every thread that allocates its own malloc arena (up to 8 x cores);
  the agent's few worker threads (DNS lookups, the MQTT connect) need no parallel allocator, so two arenas
  bound the memory they pin. Call it before the first worker thread starts.
- ``defer_import``: paho-mqtt imports urllib.request (http.client, the email package: 2-3 MiB) for one use,
  proxy settings, and only when PySocks is installed; the module is imported on first attribute access.
- ``release_free_memory``: hand freed heap pages back to the kernel (``malloc_trim``); CPython's own small-
  object arenas are returned by CPython itself, this covers the C allocations (sqlite, msgspec buffers, TLS).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
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



class _Deferred(types.ModuleType):
    """Stands in for a module in sys.modules until an attribute it lacks is asked for. Unlike
    importlib.util.LazyLoader, a later ``import name`` statement does not load it (the import system reads
    only ``__spec__``, which the stand-in has)."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)  # binds the real module on its parent package too
        return getattr(real, attr)


def defer_import(name: str) -> None:
    """Import module ``name`` only when one of its attributes is first used. No-op when it is already
    imported or cannot be found."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return
    stand_in = _Deferred(name)
    stand_in.__spec__ = spec
    sys.modules[name] = stand_in
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, stand_in)
