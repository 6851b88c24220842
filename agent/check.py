"""``commune-agent check``: run every configured probe once, print a table and a short verdict in
Vietnamese (agent.diagnose's decision table), exit with the verdict's code; ``--json`` prints the same
machine-readably."""

from __future__ import annotations

import asyncio
import json
import unicodedata

from agent.config import AgentConfig
from agent.diagnose import Verdict, diagnose
from agent.probes import REGISTRY
from agent.probes.base import CheckLine, ProbeContext
from agent.probes.http import HttpProbe
from agent.runner import build_probes, run_probe_once
from agent.wire import Point

STATUS_TEXT = {"ok": "TỐT", "warn": "CẢNH BÁO", "fail": "LỖI"}
PORTALS = "Cổng dịch vụ"


async def collect_once(cfg: AgentConfig) -> tuple[dict[str, list[Point]], dict[str, str]]:
    """Run every enabled probe once: points per probe name, and the portals' display names by configured name
    (the ``label`` of an http target: shown by check, never sent)."""
    ctx = ProbeContext(agent_id=cfg.agent_id)
    probes = build_probes(cfg, ctx)
    names = {t.name: t.label for p in probes if isinstance(p, HttpProbe) for t in p.config.targets if t.label}
    results = await asyncio.gather(*(run_probe_once(p) for p in probes))
    for p in probes:
        await p.close()
    return {p.name: pts for p, pts in zip(probes, results, strict=True)}, names


def check_lines(results: dict[str, list[Point]], names: dict[str, str] | None = None) -> list[CheckLine]:
    lines = []
    for name, pts in results.items():
        for ln in REGISTRY[name].check_lines([p for p in pts if p.m != "agent_probe"]):
            if ln.section == PORTALS and names and ln.target in names:
                ln = CheckLine(ln.section, names[ln.target], ln.status, ln.text)
            lines.append(ln)
        for meta in (p for p in pts if p.m == "agent_probe" and p.f.get("ok") == 0):
            why = "không xong trong thời gian cho phép" if meta.f.get("result") == "timeout" else "gặp lỗi"
            lines.append(CheckLine("Hệ thống", f"Bộ kiểm tra {name}", "fail",
                                   f"Bộ kiểm tra này {why}; chi tiết cho cán bộ kỹ thuật có trong --json."))
    return lines


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def render_table(lines: list[CheckLine]) -> str:
    rows = [(ln.section, ln.target, STATUS_TEXT.get(ln.status, ln.status), ln.text) for ln in lines]
    head = ("Mục", "Đối tượng", "Kết quả", "Chi tiết")
    widths = [max([_width(head[i])] + [_width(r[i]) for r in rows]) for i in range(3)]
    out = ["  ".join(_pad(h, w) for h, w in zip(head[:3], widths, strict=True)) + "  " + head[3]]
    out.append("-" * (sum(widths) + 6 + 8))
    out += ["  ".join(_pad(c, w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]
    return "\n".join(out)


def run_check(cfg: AgentConfig, as_json: bool = False) -> int:
    results, names = asyncio.run(collect_once(cfg))
    lines = check_lines(results, names)
    verdict: Verdict = diagnose(results, lines, names)
    if as_json:
        points = [p for pts in results.values() for p in pts]
        print(json.dumps({
            "verdict": verdict.as_dict(),
            "exit_code": verdict.exit_code,
            "lines": [{"section": ln.section, "target": ln.target, "status": ln.status, "text": ln.text} for ln in lines],
            "results": [{"measurement": p.m, "tags": p.tg, "fields": p.f} for p in points],
        }, ensure_ascii=False, indent=2))
        return verdict.exit_code
    print(render_table(lines))
    print()
    print(f"KẾT LUẬN: {verdict.text}")
    return verdict.exit_code
