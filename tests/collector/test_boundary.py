"""Package boundaries: the collector takes only the wire contract from agent; common/ stands alone; the
product never imports the local dev services (devstack/)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> list[tuple[str, str]]:
    out = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names] if node.module in ("agent", "collector") \
                    else [node.module]
                out += [(str(path.relative_to(ROOT)), n) for n in names]
    return out


def test_collector_imports_only_the_wire_contract_from_agent() -> None:
    imports = _imports("collector")
    assert any(name == "agent.wire" for _, name in imports)  # the scan sees imports at all
    offenders = [f"{p}: {n}" for p, n in imports if n.split(".")[0] == "agent" and n != "agent.wire"]
    assert offenders == []


def test_common_imports_nothing_from_agent_or_collector() -> None:
    imports = _imports("common")
    assert imports
    offenders = [f"{p}: {n}" for p, n in imports if n.split(".")[0] in ("agent", "collector", "devstack")]
    assert offenders == []


def test_the_product_does_not_import_the_dev_stack() -> None:
    offenders = [f"{p}: {n}" for pkg in ("agent", "collector", "common") for p, n in _imports(pkg)
                 if n.split(".")[0] == "devstack"]
    assert offenders == []
