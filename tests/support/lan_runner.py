"""Run the lan probe in this process's network namespace (the test starts it with ``ip netns exec``).

argv[1]: the probe's config as JSON; argv[2]: state dir. Each line ``scan`` on stdin runs one round and
prints its points as one JSON line, followed by the check lines; ``quit`` or EOF ends it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import msgspec

from tests.support.schema import conforming


async def main() -> None:
    from agent.probes.base import ProbeContext
    from agent.probes.lan import LanConfig, LanProbe
    from agent.units import dec_hook

    cfg = msgspec.convert(json.loads(sys.argv[1]), LanConfig, dec_hook=dec_hook)
    probe = LanProbe(cfg, ProbeContext(agent_id="t5", state_dir=Path(sys.argv[2])))
    for line in sys.stdin:
        if line.strip() != "scan":
            break
        points = conforming(await probe.collect())
        lines = LanProbe.check_lines(points)
        print(json.dumps({
            "points": [msgspec.to_builtins(p) for p in points],
            "check": [{"status": c.status, "section": c.section, "target": c.target, "text": c.text} for c in lines],
        }, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
