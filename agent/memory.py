"""Keeping the agent's resident memory small on old office PCs.

- ``defer_import``: paho-mqtt imports urllib.request (http.client, the email package: 2-3 MiB) for one use,
  proxy settings, and only when PySocks is installed; the module is imported on first attribute access.

Measured and not done: capping glibc malloc arenas and calling malloc_trim after start-up saved nothing
at steady state (the agent has three threads) and importing ctypes for it cost ~0.3 MiB.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


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
