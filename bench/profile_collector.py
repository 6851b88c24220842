"""The collector's per-point CPU cost in one process, without broker or InfluxDB: decode + identity + schema
check + time window + line encoding (``Validator.metrics``), per-agent limits, the payload digest, then joining
a write body. Optionally under
cProfile, to see where the time goes.

    python -m bench.profile_collector [--batches 400] [--points 500] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from agent import wire
from collector.config import parse_inventory
from collector.limits import AgentLimits, LimitsSection
from collector.pipeline import digest
from collector.registry import communes
from collector.validate import Validator


def payloads(agents: list[str], batches: int, points: int, t0: int) -> list[tuple[str, bytes]]:
    """Schema-valid ``synthetic`` batches, as the throughput benchmark sends them."""
    out = []
    for b in range(batches // len(agents) + 1):
        for a in agents:
            pts = [wire.Point(m="synthetic", t=t0 + b * points + i, f={"n": b * points + i, "value": 0.5 * i},
                              tg={"run": "bench", "series": f"s{i % 20}"}) for i in range(points)]
            out.append((wire.topic(a, "metrics"),
                        wire.encode(wire.Batch(v=1, agent=a, seq=b + 1, sent=t0, points=pts))))
    return out[:batches]


def batch_work(v: Validator, limits: AgentLimits, msgs: list[tuple[str, bytes]]) -> int:
    """What the collector does per batch between the broker and the InfluxDB write: identity, decode, schema
    check and line encoding, per-agent limits, the payload digest, joining 5,000-line write bodies. Returns the
    points accepted."""
    points = 0
    body: list[bytes] = []
    for topic, payload in msgs:
        identity, _ = v.identify(topic)
        accepted = v.metrics(identity, payload)
        limits.admit(identity.agent, accepted.lines, accepted.series)
        digest(payload)
        body.extend(accepted.lines)
        points += len(accepted.lines)
        if len(body) >= 5000:
            b"\n".join(body)
            body = []
    return points


def run(batches: int, points: int, profile: bool = False) -> float:
    codes = list(communes())
    agents = [f"bench-{i:03d}" for i in range(50)]
    inv = parse_inventory({"agents": {a: {"commune": codes[i % len(codes)], "site": "main"}
                                      for i, a in enumerate(agents)}}, "bench")
    v = Validator(inv)
    limits = AgentLimits(LimitsSection(points_per_second=1e9, max_series=10**6, new_series_per_hour=10**6))
    msgs = payloads(agents, batches, points, time.time_ns() - 3600 * 10**9)
    prof = cProfile.Profile() if profile else None
    start = time.process_time()  # CPU time: stable on a shared machine
    if prof:
        prof.enable()
    batch_work(v, limits, msgs)
    if prof:
        prof.disable()
    rate = len(msgs) * points / (time.process_time() - start)
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=400)
    ap.add_argument("--points", type=int, default=500)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    rate = run(args.batches, args.points, args.profile)
    print(f"decode + check + encode in one process: {rate:,.0f} points per CPU second ({1e6 / rate:.2f} us/point)")


if __name__ == "__main__":
    main()
