"""The token probe's child process: ``python -m agent.probes.token.scan`` checks ONE PKCS#11 module (its
tokens, their certificates and the certificates' OCSP/CRL endpoints) and prints the points as JSON.

The agent runs this in a short-lived child (agent.probes.token.child) so that python-pkcs11, the vendor's
native library and cryptography are loaded only here, never in the long-lived agent process (resident
memory on old office PCs), and so that a vendor library that crashes or hangs takes down only this child.

stdin: one JSON object ``{"config": <token probe config>, "module": <module>, "clock_ns": <agent clock>}``.
stdout: a JSON list of points. Exit status 0 when the points were written; anything else is a failure
that the parent reports as a result code. The process ends with ``os._exit`` so that a library call still
stuck in a worker thread (module_timeout) cannot keep it alive, and an alarm ends it if it outlives the
agent's own deadline for it (an orphan of a killed agent).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import msgspec

from agent.units import dec_hook


class Request(msgspec.Struct, forbid_unknown_fields=True):
    config: dict[str, object]
    module: dict[str, object]
    clock_ns: int


def _run(raw: bytes) -> bytes:
    from agent.probes.base import ProbeContext
    from agent.probes.token.child import deadline_s
    from agent.probes.token.config import TokenConfig, TokenModule
    from agent.probes.token.scanner import TokenScanner

    req = msgspec.json.decode(raw, type=Request)
    config = msgspec.convert(req.config, TokenConfig, dec_hook=dec_hook)
    if hasattr(signal, "alarm"):
        # Orphaned (the agent was killed) and stuck in a library that holds the GIL: the kernel ends this process
        # shortly after the agent would have killed it (SIGALRM with its default action; no Python handler).
        signal.alarm(int(deadline_s(config)) + 5)
    module = msgspec.convert(req.module, TokenModule, dec_hook=dec_hook)
    offset = req.clock_ns - time.time_ns()  # the agent's clock (tests substitute it), carried over

    async def check() -> bytes:
        probe = TokenScanner(config, ProbeContext(agent_id="token-scan", clock_ns=lambda: time.time_ns() + offset))
        try:
            return msgspec.json.encode(await probe.check_module_here(module))
        finally:
            await probe.close()

    # Not asyncio.run: closing the loop would join the default executor, and a library call that timed out
    # (module_timeout) may stay stuck in its worker thread forever; main() ends the process with os._exit.
    loop = asyncio.new_event_loop()
    return loop.run_until_complete(check())


def main() -> None:
    try:
        out = _run(sys.stdin.buffer.read())
    except BaseException as exc:  # any failure becomes the exit status and a reason on stderr
        sys.stderr.write(f"{type(exc).__name__}: {exc}"[:300] + "\n")
        sys.stderr.flush()
        os._exit(3)
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
