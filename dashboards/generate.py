"""Generate the dashboards' JSON: ``python -m dashboards.generate [--check] [--out DIR]``.

``--check`` exits 1 when the committed JSON differs from what the code generates (CI runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import commune, fleet, network, overview, portals, signatures

OUT = Path(__file__).parent / "json"
BUILDERS: dict[str, Callable[[], dash.Dashboard]] = {
    "province-overview": overview.build,
    "commune-detail": commune.build,
    "service-portals": portals.build,
    "digital-signatures": signatures.build,
    "network-devices": network.build,
    "agent-fleet": fleet.build,
}


def render(build: Callable[[], dash.Dashboard]) -> str:
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {f"{name}.json": render(build) for name, build in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dashboards.generate", description=__doc__)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = p.parse_args(argv)
    files = generate()
    if args.check:
        stale = [n for n, text in files.items() if not (args.out / n).exists() or (args.out / n).read_text("utf-8") != text]
        extra = sorted(f.name for f in args.out.glob("*.json") if f.name not in files)
        for n in [*stale, *extra]:
            print(f"{args.out / n}: out of date (run python -m dashboards.generate)", file=sys.stderr)
        return 1 if stale or extra else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for n, text in files.items():
        (args.out / n).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} dashboards to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
