"""Run the check of one PKCS#11 module in a short-lived child process (``python -m agent.probes.token.scan``).

The long-lived agent process never loads python-pkcs11, the vendor's library or cryptography (resident memory
on old office PCs); a vendor library that crashes or hangs — even one that never releases the GIL — takes down
only the child. A failed child is data, never an exception: it becomes a ``token_module`` point with the
result codes of an in-process failure (module_error for a crash or bad output, module_timeout when the child
had to be killed, module_busy while a killed child has not exited yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import msgspec

from agent.probes.token.config import TokenConfig, TokenModule
from agent.probes.token.results import TokenResult
from agent.wire import Point

CHILD_MODULE = "agent.probes.token.scan"
START_GRACE_S = 10.0
"""Allowed on top of the module and endpoint timeouts for the child to start and import its libraries."""
REAP_WAIT_S = 5.0
"""How long to wait for a killed child to exit before reporting its module busy."""

_alive: dict[str, asyncio.subprocess.Process] = {}
"""Library path -> a child that was killed but has not exited yet (stuck in the kernel, e.g. a USB call)."""


class ChildFailure(Exception):
    def __init__(self, code: TokenResult, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def deadline_s(config: TokenConfig) -> float:
    """The library's own timeout is applied inside the child; this bounds the whole child from outside."""
    return float(config.module_timeout) + float(config.endpoint_timeout) + START_GRACE_S


async def check_in_child(config: TokenConfig, module: TokenModule, clock_ns: int) -> list[Point]:
    """The points of ``module``'s check, computed by a child process; raises ChildFailure when it fails."""
    stuck = _alive.get(module.path)
    if stuck is not None:
        if stuck.returncode is None:
            raise ChildFailure(TokenResult.MODULE_BUSY, "the previous query of this library has not finished")
        del _alive[module.path]
    request = request_bytes(config, module, clock_ns)
    try:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", CHILD_MODULE, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise ChildFailure(TokenResult.MODULE_ERROR, f"cannot start the scan process: {exc}"[:300]) from None
    limit = deadline_s(config)
    try:
        async with asyncio.timeout(limit):
            out, err = await proc.communicate(request)
    except TimeoutError:
        raise ChildFailure(TokenResult.MODULE_TIMEOUT,
                           f"PKCS#11 library did not answer: scan process killed after {limit:g}s") from None
    finally:
        await _reap(module.path, proc)
    rc = proc.returncode
    if rc != 0:
        raise ChildFailure(TokenResult.MODULE_ERROR, _failure_reason(rc, err))
    try:
        return msgspec.json.decode(out, type=list[Point])
    except msgspec.DecodeError as exc:  # also ValidationError
        raise ChildFailure(TokenResult.MODULE_ERROR, f"bad output from the scan process: {exc}"[:300]) from None


def request_bytes(config: TokenConfig, module: TokenModule, clock_ns: int) -> bytes:
    """What the child reads on stdin."""
    return msgspec.json.encode({"config": config, "module": module, "clock_ns": clock_ns}, enc_hook=_plain)


async def _reap(path: str, proc: asyncio.subprocess.Process) -> None:
    """Kill the child if it still runs (timeout, cancellation); remember it if it does not exit."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(REAP_WAIT_S):
                await proc.wait()
    if proc.returncode is None:
        _alive[path] = proc


def _plain(obj: object) -> object:
    if isinstance(obj, float):  # agent.units.Duration
        return float(obj)
    raise NotImplementedError(f"cannot send {type(obj).__name__} to the scan process")


def _failure_reason(rc: int | None, err: bytes) -> str:
    detail = err.decode("utf-8", errors="replace").strip().splitlines()
    tail = f": {detail[-1]}" if detail else ""
    if rc is not None and rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"the PKCS#11 library crashed the scan process ({name}){tail}"[:300]
    return f"the scan process failed (exit status {rc}){tail}"[:300]
