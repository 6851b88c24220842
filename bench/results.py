"""The benchmark table: each benchmark records its rows here (bench/results/latest.json, merged by section);
``python -m bench.results`` prints the table and writes bench/results/latest.md. ``--keep`` copies the latest
run to bench/results/reference.{json,md} (committed: the figures docs/benchmarks.md quotes); latest.* is
git-ignored.

A row: what was measured, its value, the reference measured in the same run (if any), the ratio and the
target, so every figure is read beside something measured on the same machine at the same time.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

DIR = Path(__file__).resolve().parent / "results"
LATEST = DIR / "latest.json"


@dataclass
class Row:
    metric: str
    value: float
    unit: str
    reference: str = ""
    ref_value: float | None = None
    target: str = ""
    """e.g. ``ratio >= 0.8`` or ``<= 1.5``; ``met`` is filled from it."""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.ref_value if self.ref_value else None


def _check(row: Row) -> bool | None:
    if not row.target:
        return None
    what, op, bound = row.target.split()
    x = row.ratio if what == "ratio" else row.value
    if x is None:
        return None
    return x >= float(bound) if op == ">=" else x <= float(bound)


def machine() -> dict[str, object]:
    return {"cpus": psutil.cpu_count(), "load_1m": round(psutil.getloadavg()[0], 2), "python": platform.python_version(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)}


def record(section: str, rows: list[Row], params: dict[str, object] | None = None) -> None:
    """Merge one benchmark's rows into bench/results/latest.json and print them."""
    DIR.mkdir(exist_ok=True)
    data = json.loads(LATEST.read_text()) if LATEST.exists() else {}
    for r in rows:
        r.met = _check(r)
    data[section] = {"time": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(), "params": params or {},
                     "rows": [{**asdict(r), "ratio": r.ratio} for r in rows]}
    LATEST.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(table({section: data[section]}))


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def table(data: dict[str, dict[str, object]]) -> str:
    out = ["| section | metric | value | reference (same run) | ratio | target | met |",
           "| --- | --- | ---: | --- | ---: | --- | --- |"]
    for section, body in data.items():
        for r in body["rows"]:  # type: ignore[attr-defined]
            ref = f"{r['reference']}: {_fmt(r['ref_value'])}" if r["reference"] else ""
            met = {True: "yes", False: "**no**", None: ""}[r["met"]]
            note = f" ({r['note']})" if r["note"] else ""
            out.append(f"| {section} | {r['metric']}{note} | {_fmt(r['value'])} {r['unit']} | {ref} | "
                       f"{_fmt(r['ratio'])} | {r['target']} | {met} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true", help="copy the latest results to bench/results/reference.*")
    args = ap.parse_args()
    if not LATEST.exists():
        raise SystemExit("no results yet: run scripts/bench.sh")
    data = json.loads(LATEST.read_text())
    text = table(data)
    machines = "; ".join(f"{s}: {b['time']}, load {b['machine']['load_1m']}" for s, b in data.items())
    (DIR / "latest.md").write_text(f"{text}\n\nRuns: {machines}\n")
    print(text)
    print(f"\nwritten: {DIR / 'latest.md'}, {LATEST}")
    if args.keep:
        shutil.copy(LATEST, DIR / "reference.json")
        shutil.copy(DIR / "latest.md", DIR / "reference.md")
        print(f"kept as the reference: {DIR / 'reference.json'}")


if __name__ == "__main__":
    main()
