"""agent.memory: glibc's malloc is tuned and trimmed where it exists, and nothing breaks where it does not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import REPO


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc is Linux-only")
def test_arenas_capped_and_free_heap_returned_after_a_large_free() -> None:
    # A fresh process: allocate ~64 MiB in small C-heap blocks (below the mmap threshold), free them, trim.
    code = (
        "import ctypes, sys; from agent.memory import limit_malloc_arenas, release_free_memory\n"
        "assert limit_malloc_arenas()\n"
        "libc = ctypes.CDLL(None); libc.malloc.restype = ctypes.c_void_p; libc.free.argtypes = [ctypes.c_void_p]\n"
        "rss = lambda: int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])\n"
        "blocks = [libc.malloc(64 * 1024) for _ in range(1024)]\n"
        "for b in blocks: ctypes.memset(b, 1, 64 * 1024)\n"
        "for b in blocks[:-1]: libc.free(b)\n"  # the last block stays: the heap top cannot shrink by itself
        "before = rss(); trimmed = release_free_memory(); after = rss()\n"
        "print(trimmed, before - after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=REPO)
    trimmed, freed_kib = out.stdout.split()
    assert trimmed == "True"
    assert int(freed_kib) > 32 * 1024, out.stdout


def test_urllib_request_is_imported_only_when_used() -> None:
    # The agent's MQTT stack (paho-mqtt) imports urllib.request; the agent defers it until it is really used.
    code = (
        "import sys; from agent.memory import defer_import; defer_import('urllib.request')\n"
        "import agent.publish, urllib.request\n"
        "print('http.client' in sys.modules)\n"
        "from urllib.request import getproxies\n"
        "print('http.client' in sys.modules, callable(getproxies), type(urllib.request).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=REPO)
    assert out.stdout.split() == ["False", "True", "True", "module"]
