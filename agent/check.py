"""``commune-agent check``: run every configured probe once, print a table and a verdict."""

from __future__ import annotations

import asyncio
import json

from agent.config import AgentConfig
from agent.probes import REGISTRY
from agent.probes.base import CheckLine, ProbeContext
from agent.runner import build_probes, run_probe_once
from agent.wire import Point


async def collect_once(cfg: AgentConfig) -> dict[str, list[Point]]:
    """Run every enabled probe once; points per probe name."""
    ctx = ProbeContext(agent_id=cfg.agent_id)
    probes = build_probes(cfg, ctx)
    results = await asyncio.gather(*(run_probe_once(p) for p in probes))
    for p in probes:
        await p.close()
    return {p.name: pts for p, pts in zip(probes, results, strict=True)}


def check_lines(results: dict[str, list[Point]]) -> list[CheckLine]:
    return [line for name, pts in results.items() for line in REGISTRY[name].check_lines(pts)]


def _target(point: Point) -> str:
    for key in ("service", "name", "target", "interface", "path", "probe"):
        if key in point.tg:
            return point.tg[key]
    return ""


def run_check(cfg: AgentConfig, as_json: bool = False) -> int:
    results = asyncio.run(collect_once(cfg))
    points = [p for pts in results.values() for p in pts]
    failed = [p for p in points if p.f.get("ok") == 0]
    verdict = "Mọi thứ bình thường." if not failed else f"Có {len(failed)} kiểm tra lỗi."
    code = 0 if not failed else 1
    if as_json:
        print(json.dumps({"verdict": verdict, "exit_code": code,
                          "results": [{"measurement": p.m, "tags": p.tg, "fields": p.f} for p in points]},
                         ensure_ascii=False, indent=2))
        return code
    for p in points:
        if "result" in p.f:
            print(f"{p.m:12} {_target(p):28} {p.f['result']!s:18} {p.f.get('reason', '')}")
    print(verdict)
    return code
