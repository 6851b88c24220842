"""The collector's point-shape cache (``collector.plain_batch``) under a province's series set, against the same
code at another git revision, in one process and one run: CPU per point and the memory the cache keeps.

Two loads, both run through the collector's per-batch work in one process (``Validator.metrics``, per-agent
limits, the payload digest, joining write bodies), as ``bench.profile_collector`` does:

- province: ``bench.province_load``'s fleet (every commune of Phú Thọ, ``--pcs`` office PCs + a gateway per site)
  each agent sending one batch per round with every series of the commune-PC probe set (29 series per agent).
  The first round makes every series new; the next ``--rounds`` rounds are the steady state that is timed.
- throughput: ``bench.collector_throughput``'s batches (50 agents x 20 series, 500-point batches).

Each variant (``--before`` revision, then this tree) is timed twice, alternating (ABAB), in CPU seconds
(``time.process_time``): the machine is shared, read the ratios. Memory: ``tracemalloc``'s traced bytes still held
by a fresh validator after the province's first round (every series once), per cached series entry; and held
once a hostile flood of new series has (nearly) filled the cache's byte bound, beside the cache's own estimate.

    python -m bench.shape_cache [--pcs 10] [--rounds 3] [--before 9a578c7]
"""

from __future__ import annotations

import argparse
import gc
import random
import subprocess
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path

from agent import wire
from bench.collector_throughput import build
from bench.profile_collector import batch_work
from bench.province_load import PC_PROFILE, _value, fleet
from bench.results import Row, record
from collector.config import Inventory, parse_inventory
from collector.limits import AgentLimits, LimitsSection
from collector.registry import communes
from collector.validate import Validator

ROOT = Path(__file__).resolve().parent.parent
Msgs = list[tuple[str, bytes]]


def _module(name: str, rev: str, path: str) -> types.ModuleType:
    src = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    mod = types.ModuleType(name)
    mod.__file__ = f"{rev}:{path}"
    sys.modules[name] = mod  # msgspec resolves a Struct's annotations through its module
    exec(compile(src, f"{rev}:{path}", "exec"), mod.__dict__)
    return mod


def plain_batches_at(rev: str) -> type:
    """``collector.plain_batch.PlainBatches`` as it is at ``rev`` (with that revision's ``line_format``)."""
    current = sys.modules["collector.line_format"]
    sys.modules["collector.line_format"] = _module(f"before_{rev}_line_format", rev, "collector/line_format.py")
    try:
        return _module(f"before_{rev}_plain_batch", rev, "collector/plain_batch.py").PlainBatches  # type: ignore[no-any-return]
    finally:
        sys.modules["collector.line_format"] = current


def province(pcs: int, rounds: int, t0: int) -> tuple[dict[str, dict[str, str]], list[Msgs]]:
    """The fleet's inventory and, per round, one batch per agent with each of its series once."""
    schema = wire.measurement_schema()
    inventory = fleet(pcs)
    rng = random.Random(7)
    out = []
    for r in range(rounds):
        t = t0 + r * 60 * 10**9
        msgs = []
        for a in inventory:
            pts = [wire.Point(m=m, t=t, tg=tags, f={k: _value(f.type, rng) for k, f in schema.measurements[m].fields.items()})
                   for m, _, variants in PC_PROFILE for tags in variants]
            msgs.append((wire.topic(a, "metrics"), wire.encode(wire.Batch(v=1, agent=a, seq=r + 1, sent=t, points=pts))))
        out.append(msgs)
    return inventory, out


def validator(inv: Inventory, plain: type | None, now: int) -> Validator:
    v = Validator(inv, clock_ns=lambda: now)
    if plain is not None:
        v.plain = plain(v.checker.schema, v.encoder)
    return v


def run(v: Validator, rounds: list[Msgs]) -> tuple[float, int]:
    """(CPU seconds, points) of the collector's per-batch work over ``rounds``."""
    limits = AgentLimits(LimitsSection(points_per_second=1e9, burst_points=10**9, max_series=10**6,
                                       new_series_per_hour=10**6))
    start = time.process_time()
    points = sum(batch_work(v, limits, msgs) for msgs in rounds)
    return time.process_time() - start, points


def retained(make: Callable[[], Validator], first: Msgs, until_full: bool = False) -> tuple[int, int, int]:
    """(bytes a fresh validator still holds after ``first`` (``until_full``: its batches until the cache is full),
    series entries cached, the cache's own estimate)."""
    v = make()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for msg in first if until_full else []:
        if v.plain.full():
            break
        run(v, [[msg]])
    if not until_full:
        run(v, [first])
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return held, len(v.plain), getattr(v.plain, "size", lambda: 0)()


def flood(agents: list[str], t0: int, batches: int, long: bool) -> Msgs:
    """Batches of 100 ever new series each (a hostile agent's worst): ``long``, two tags of 250 non-Latin-1
    characters (``synthetic``); else four short unique tags (``token``, whose tags no other series shares)."""
    schema = wire.measurement_schema()
    rng = random.Random(3)
    out = []
    for b in range(batches):
        a = agents[b % len(agents)]
        if long:
            pts = [wire.Point(m="synthetic", t=t0, f={"n": 1, "value": 0.5},
                              tg={"run": f"{b}-{i}-" + "ờ" * 240, "series": f"{b}-{i}-" + "ạ" * 240}) for i in range(100)]
        else:
            fields = schema.measurements["token"].fields.items()
            pts = [wire.Point(m="token", t=t0, f={k: _value(f.type, rng) for k, f in fields},
                              tg={k: f"{k[0]}{b}-{i}" for k in ("module", "token", "serial", "reader")})
                   for i in range(100)]
        out.append((wire.topic(a, "metrics"), wire.encode(wire.Batch(v=1, agent=a, seq=b + 1, sent=t0, points=pts))))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcs", type=int, default=10, help="office PCs per site")
    ap.add_argument("--rounds", type=int, default=3, help="steady rounds timed after the first")
    ap.add_argument("--before", default="main", help="git revision to compare with (its plain_batch + line_format)")
    args = ap.parse_args(argv)
    now = time.time_ns()
    t0 = now - 3600 * 10**9
    inv_src, rounds = province(args.pcs, args.rounds + 1, t0)
    inv = parse_inventory({"agents": inv_src}, "bench")
    codes = list(communes())
    agents = [f"bench-{i:03d}" for i in range(50)]
    tp_inv = parse_inventory({"agents": {a: {"commune": codes[i % len(codes)], "site": "main"}
                                         for i, a in enumerate(agents)}}, "bench")
    tp = build(agents, 20, 500, t0)
    variants: dict[str, type | None] = {f"before ({args.before})": plain_batches_at(args.before), "after": None}
    series = len(inv_src) * sum(len(v) for _, _, v in PC_PROFILE)
    print(f"province: {len(inv_src)} agents, {series} series, {args.rounds} steady rounds; throughput set: "
          f"{len(tp)} batches x 500 points")
    cpu: dict[tuple[str, str], list[float]] = {}
    for _ in range(2):  # ABAB
        for name, plain in variants.items():
            v = validator(inv, plain, now)
            first, n_first = run(v, rounds[:1])
            steady, n = run(v, rounds[1:])
            tpv = validator(tp_inv, plain, now)
            tput, n_tp = run(tpv, [tp])
            for load, (c, k) in (("province first round", (first, n_first)), ("province steady", (steady, n)),
                                 ("throughput set", (tput, n_tp))):
                cpu.setdefault((name, load), []).append(c / k * 1e5)
            print(f"{name}: cached {len(v.plain)} series; CPU s per 100k points: first round {first / n_first * 1e5:.3f}, "
                  f"steady {steady / n * 1e5:.3f}, throughput set {tput / n_tp * 1e5:.3f}")
            del v, tpv
    mem = {name: retained(lambda plain=plain: validator(inv, plain, now), rounds[0])  # type: ignore[misc]
           for name, plain in variants.items()}
    for name, (held, entries, est) in mem.items():
        print(f"{name}: {held / 2**20:.1f} MiB held after the first round (estimate {est / 2**20:.1f}), {entries} series "
              f"cached, {held / max(entries, 1):,.0f} B per cached series")
    hostile = {}
    for name, msgs in (("500-character tags", flood(sorted(inv_src), t0, 380, True)),
                       ("4 short unshared tags", flood(sorted(inv_src), t0, 900, False))):
        hostile[name] = retained(lambda: validator(inv, None, now), msgs, until_full=True)
        held, entries, est = hostile[name]
        print(f"after, {name} (until the cache is full): {held / 2**20:.1f} MiB held (estimate {est / 2**20:.1f}), "
              f"{entries} series cached, {held / max(entries, 1):,.0f} B per cached series")
    before, after = variants
    rows = []
    for load in ("province steady", "province first round", "throughput set"):
        a, b = min(cpu[(after, load)]), min(cpu[(before, load)])
        rows.append(Row(f"collector CPU per 100k points, {load} ({series} series)" if load.startswith("province")
                        else f"collector CPU per 100k points, {load}", a, "s", before, b))
    rows += [Row(f"shape cache memory held at {mem[after][1]} series", mem[after][0] / 2**20, "MiB", before,
                 mem[before][0] / 2**20),
             Row("memory per cached series", mem[after][0] / max(mem[after][1], 1), "B", before,
                 mem[before][0] / max(mem[before][1], 1))]
    rows += [Row(f"shape cache memory held, {name} ({entries} series)", held / 2**20, "MiB", "its estimate",
                 est / 2**20) for name, (held, entries, est) in hostile.items()]
    record("shape_cache", rows, {"agents": len(inv_src), "series": series, "pcs_per_site": args.pcs,
                                 "rounds": args.rounds, "before": args.before})


if __name__ == "__main__":
    main()
