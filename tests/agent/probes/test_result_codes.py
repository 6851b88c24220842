"""Every probe's result enum matches its docs page, has Vietnamese texts wherever a text table exists, and
covers the codes its network helpers can raise."""

from __future__ import annotations

import ast
import importlib
import re
from enum import StrEnum
from pathlib import Path

import pytest

from agent.probes import REGISTRY
from agent.probes.base import parse_result

ROOT = Path(__file__).resolve().parents[3]
WITH_RESULTS = sorted(name for name, cls in REGISTRY.items() if cls.results is not None)
# Modules whose TEXTS table maps failing result codes to ``commune-agent check`` text, per probe.
TEXT_TABLES = {
    "dns": "agent.probes.dns", "http": "agent.probes.http", "traceroute": "agent.probes.traceroute",
    "snmp": "agent.probes.snmp.check",
}
# agent/net helpers whose ProbeFailure codes a probe passes through as its own result.
NET_CODES = {"http": ["httptiming"], "dns": ["dnswire"], "clock": ["sntp", "httptiming"], "token": ["httptiming"]}


def documented_codes(name: str) -> list[str]:
    """First column of the table under "## Result codes" in docs/probes/<name>.md."""
    text = (ROOT / "docs" / "probes" / f"{name}.md").read_text(encoding="utf-8")
    section = re.search(r"^## Result codes[^\n]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"docs/probes/{name}.md has no '## Result codes' section"
    rows = [ln for ln in section.group(1).splitlines() if ln.startswith("|")]
    assert len(rows) > 2, f"docs/probes/{name}.md: no result-code table"
    return [row.split("|")[1].strip().strip("`") for row in rows[2:]]


def raised_codes(module: str) -> set[str]:
    """String constants given to ProbeFailure(...) or assigned to ``code`` in agent/net/<module>.py."""
    tree = ast.parse((ROOT / "agent" / "net" / f"{module}.py").read_text(encoding="utf-8"))
    codes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ProbeFailure" and node.args:
            exprs = [node.args[0]]
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "code" for t in node.targets):
            exprs = [node.value]
        else:
            continue
        for expr in exprs:
            codes |= {c.value for c in ast.walk(expr) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return codes


def test_the_probes_with_result_codes() -> None:
    assert sorted(["clock", "dns", "http", "lan", "ping", "snmp", "tcp", "token", "traceroute",
                                   "uplink"]) == WITH_RESULTS


@pytest.mark.parametrize("name", WITH_RESULTS)
def test_docs_list_exactly_the_enum_values(name: str) -> None:
    results = REGISTRY[name].results
    assert results is not None
    codes = documented_codes(name)
    assert len(codes) == len(set(codes)), f"docs/probes/{name}.md lists a code twice: {codes}"
    assert set(codes) == {m.value for m in results}
    assert "ok" in codes


@pytest.mark.parametrize("name", sorted(TEXT_TABLES))
def test_every_failing_code_has_a_vietnamese_text(name: str) -> None:
    results = REGISTRY[name].results
    assert results is not None
    texts: dict[StrEnum, str] = importlib.import_module(TEXT_TABLES[name]).TEXTS
    assert set(texts) == {m for m in results if m.value != "ok"}
    for member, text in texts.items():
        assert text.strip(), member
        assert re.search(r"[ăâđêôơưáàảãạéèẻẽẹíìỉĩịóòỏõọúùủũụýỳỷỹỵ]", text.lower()), (member, text)


@pytest.mark.parametrize("name", sorted(NET_CODES))
def test_codes_raised_by_network_helpers_are_result_codes(name: str) -> None:
    results = REGISTRY[name].results
    assert results is not None
    for module in NET_CODES[name]:
        codes = raised_codes(module)
        assert codes, module
        assert {c for c in codes if parse_result(results, c) is None} == set(), (name, module)


def test_parse_result() -> None:
    results = REGISTRY["tcp"].results
    assert results is not None
    assert parse_result(results, "connect_refused") == "connect_refused"
    assert parse_result(results, "no_such_code") is None
    assert parse_result(results, 1) is None
