"""Where this machine's SoftHSM2 PKCS#11 library is (the path depends on the architecture)."""

from __future__ import annotations

import shutil
from pathlib import Path

CANDIDATES = ("lib/*/softhsm/libsofthsm2.so", "lib/softhsm/libsofthsm2.so", "local/lib/softhsm/libsofthsm2.so")  # under /usr


def softhsm_library() -> str | None:
    """The SoftHSM2 library on this machine, or None when softhsm2 is not installed."""
    for pattern in CANDIDATES:
        found = sorted(str(p) for p in Path("/usr").glob(pattern))
        if found:
            return found[0]
    return None


def softhsm_installed() -> bool:
    """softhsm2 is installed (its tool is on PATH or its library exists): then the tests must run, not skip."""
    return shutil.which("softhsm2-util") is not None or softhsm_library() is not None


def require_softhsm() -> str:
    """The library path; fails (not skips) when softhsm2 is installed but unusable (library or tools missing)."""
    lib = softhsm_library()
    missing = [what for what, ok in (("libsofthsm2.so", lib is not None), ("softhsm2-util", shutil.which("softhsm2-util")),
                                     ("pkcs11-tool (opensc)", shutil.which("pkcs11-tool"))) if not ok]
    if missing:
        raise AssertionError(f"softhsm2 is installed but cannot be used: missing {', '.join(missing)}")
    assert lib is not None
    return lib
