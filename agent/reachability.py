"""Waiting out a reconnect backoff without sitting idle once the network is back.

After a site's link is cut the backoff grows to its cap (60 s, x0.5-1.5 jitter). When the link returns, the
agent should not wait out the rest: during the wait it tries a plain TCP connect to the broker every
``check_every`` seconds, and ends the wait as soon as one succeeds (the broker accepts connections again).
The check costs one SYN per interval while the link is down, nothing while connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


async def broker_reachable(host: str, port: int, within: float) -> bool:
    """Does ``host:port`` accept a TCP connection within ``within`` s?"""
    try:
        async with asyncio.timeout(within):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def wait_or_reachable(delay: float, host: str, port: int, check_every: float) -> bool:
    """Sleep ``delay`` s, or less: True if the broker became reachable before the delay ran out.
    ``check_every`` <= 0 disables the checks (a plain sleep)."""
    deadline = time.monotonic() + delay
    if check_every <= 0:
        await asyncio.sleep(delay)
        return False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(check_every, left))
        if time.monotonic() >= deadline:
            return False
        if await broker_reachable(host, port, min(check_every, 2.0)):
            return True
