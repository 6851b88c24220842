"""Keep a long-lived task running: log an unexpected failure and start it again after a backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from common.backoff import Backoff

log = logging.getLogger("supervise")


async def supervise(name: str, factory: Callable[[], Awaitable[None]], max_delay: float = 30.0,
                    backoff: Backoff | None = None) -> None:
    """Run ``factory()``; return when it returns. If it raises an Exception, log it with its traceback and
    run it again after a jittered backoff (1 s doubling up to ``max_delay``). Cancellation passes through."""
    delays = backoff or Backoff(1.0, max_delay)
    while True:
        try:
            await factory()
            return
        except Exception:
            delay = delays.next()
            log.exception("%s failed; restarting in %.1fs", name, delay)
        await asyncio.sleep(delay)
