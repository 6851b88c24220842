"""Assemble the measurement schema from the probes' declarations and write it into the wire contract.

    python -m agent.schema_export            # rewrite agent/wire/measurements.json and the docs tables
    python -m agent.schema_export --check    # exit 1 if either is out of date (what the tests check too)

Each probe declares its measurements (``Probe.measurements``), the runner declares the agent's own
(``agent.runner.MEASUREMENTS``). The docs pages (docs/probes/<page>.md) carry one generated table per
measurement between ``<!-- schema:<name> -->`` and ``<!-- /schema -->``.

Bump ``SCHEMA_CONTENT_VERSION`` whenever a measurement, tag or field is added, removed or changed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Final

import msgspec

from agent import wire
from agent.wire.spec import RESERVED_MEASUREMENTS, SCHEMA_FORMAT, MeasurementSpec, Schema

SCHEMA_CONTENT_VERSION: Final = 2  # 2: unit suffixes on host byte/time fields, http tag label dropped

ROOT: Final = Path(__file__).resolve().parents[1]
SCHEMA_PATH: Final = Path(__file__).resolve().parent / "wire" / wire.MEASUREMENTS_FILE
DOCS_DIR: Final = ROOT / "docs" / "probes"

_BLOCK_RE: Final = re.compile(r"<!-- schema:([a-z0-9_]+) -->\n.*?<!-- /schema -->", re.S)


def declared() -> list[MeasurementSpec]:
    from agent.probes import REGISTRY
    from agent.runner import MEASUREMENTS as AGENT_MEASUREMENTS

    return [*AGENT_MEASUREMENTS, *(m for probe in REGISTRY.values() for m in probe.measurements)]


def assemble() -> Schema:
    specs = declared()
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"measurements declared twice: {duplicates}")
    reserved = sorted(RESERVED_MEASUREMENTS.intersection(names))
    if reserved:
        raise ValueError(f"measurements reserved for the collector: {reserved}")
    for s in specs:
        bad = sorted(wire.RESERVED_TAGS.intersection(s.tags))
        if bad:
            raise ValueError(f"{s.name}: tags {bad} are added by the collector")
        if set(s.tags) & set(s.fields):
            raise ValueError(f"{s.name}: a name is both tag and field")
        if len(s.tags) > 16 or len(s.fields) > 64:
            raise ValueError(f"{s.name}: more tags or fields than the wire allows")
    return Schema(format=SCHEMA_FORMAT, version=SCHEMA_CONTENT_VERSION,
                  measurements={s.name: s for s in sorted(specs, key=lambda s: s.name)})


def schema_json(schema: Schema) -> bytes:
    return msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"


# docs -------------------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def doc_table(spec: MeasurementSpec) -> str:
    """The generated table of one measurement (tag keys, then fields with type, unit and meaning)."""
    rows = [f"Measurement `{spec.name}`" + (f": {_cell(spec.doc)}" if spec.doc else "") + ".", "",
            "| kind | name | type | unit | meaning |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| tag | {k} | str | | {_cell(v)} |" for k, v in spec.tags.items()]
    for k, f in spec.fields.items():
        meaning = f.doc + (f" (at most {f.str_limit} characters)" if f.type == "str" and f.max_length else "")
        rows.append(f"| field | {k} | {f.type} | {_cell(f.unit)} | {_cell(meaning)} |")
    return f"<!-- schema:{spec.name} -->\n" + "\n".join(rows) + "\n<!-- /schema -->"


def render_page(text: str, schema: Schema) -> str:
    """``text`` with every generated block replaced by the schema's current table."""
    def repl(m: re.Match[str]) -> str:
        spec = schema.measurements.get(m.group(1))
        return doc_table(spec) if spec else m.group(0)
    return _BLOCK_RE.sub(repl, text)


def page_blocks(text: str) -> list[str]:
    return _BLOCK_RE.findall(text)


def check_docs(schema: Schema, docs_dir: Path = DOCS_DIR) -> list[str]:
    """Problems: a page without its measurements' tables, a table of another page, or a stale table."""
    problems = []
    pages = sorted({s.page for s in schema.measurements.values()})
    for page in pages:
        path = docs_dir / f"{page}.md"
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        text = path.read_text(encoding="utf-8")
        want = sorted(n for n, s in schema.measurements.items() if s.page == page)
        have = sorted(page_blocks(text))
        if have != want:
            problems.append(f"{path}: tables for {have}, the schema has {want}")
        if render_page(text, schema) != text:
            problems.append(f"{path}: a measurement table is out of date (run python -m agent.schema_export)")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m agent.schema_export", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when something is out of date")
    args = ap.parse_args(argv)
    schema = assemble()
    data = schema_json(schema)
    if args.check:
        problems = check_docs(schema)
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_bytes() != data:
            problems.append(f"{SCHEMA_PATH}: out of date")
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    SCHEMA_PATH.write_bytes(data)
    for page in sorted({s.page for s in schema.measurements.values()}):
        path = DOCS_DIR / f"{page}.md"
        text = path.read_text(encoding="utf-8")
        new = render_page(text, schema)
        if new != text:
            path.write_text(new, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH} ({len(schema.measurements)} measurements, version {schema.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
