"""agent.memory: glibc's malloc is tuned and trimmed where it exists, and nothing breaks where it does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

UNNEEDED = ("pkcs11", "cryptography", "statistics", "zoneinfo", "difflib", "http.client", "email", "importlib.resources",
            "agent.simulate.engine")
"""Modules the running agent does not need (heavy, or imported only for other commands or the collector)."""


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


def test_a_round_of_the_usual_probes_leaves_the_unneeded_modules_unloaded(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("agent: {id: pc-memory-test}\n"
                   "probes:\n"
                   "  host: {}\n"
                   "  tcp: {targets: [{name: closed, host: 127.0.0.1, port: 9}]}\n"
                   "  dns: {system: false, resolvers: [{name: local, address: 127.0.0.1, port: 9}]}\n",
                   encoding="utf-8")
    code = (
        "import asyncio, sys; from agent.memory import defer_import; defer_import('urllib.request')\n"
        "import agent.runner; from agent.check import collect_once; from agent.config import load_config\n"
        "from agent.cli import _parser; _parser()\n"  # the command line, as ``commune-agent run`` builds it
        "from agent.probes.http import load_catalogue; assert load_catalogue('phutho')\n"  # the shipped catalogue
        f"results, _ = asyncio.run(collect_once(load_config({str(cfg)!r})))\n"
        "print(sorted(results))\n"
        f"print(sorted(m for m in {UNNEEDED!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=REPO)
    probes, loaded = out.stdout.strip().splitlines()
    assert probes == "['dns', 'host', 'tcp']", out
    assert loaded == "[]", out
