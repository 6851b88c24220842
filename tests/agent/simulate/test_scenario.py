"""Scenario files: every invalid one in tests/data/invalid/simulate fails with exactly the message it states."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.simulate.fleet import build_fleet
from agent.simulate.scenario import SiteLinkDown, load_scenario, resolve_time
from tests.support.paths import INVALID, REPO

CASES = sorted((INVALID / "simulate").glob("*.yaml"))
EXAMPLES = sorted((REPO / "examples" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_invalid_scenarios(path: Path) -> None:
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# error: ")
    with pytest.raises(ConfigError) as err:
        build_fleet(load_scenario(path))
    assert str(err.value) == f"{path.parent}/" + header.removeprefix("# error: ")


def test_every_example_scenario_loads() -> None:
    assert EXAMPLES, "examples/scenarios/ holds the shipped scenarios"
    for path in EXAMPLES:
        sc = load_scenario(path)
        build_fleet(sc)
        assert sc.faults, f"{path.name} schedules faults"


def test_relative_and_absolute_fault_times(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text('faults:\n  - {kind: site_link_down, commune: "07900", site: tru-so-chinh, start: "+90s",'
                 ' end: "2026-11-23T09:00:00+07:00"}\n')
    sc = load_scenario(p)
    assert isinstance(sc.faults[0], SiteLinkDown)
    (w,) = sc.windows(origin_ns=1_000 * 10**9)
    assert w.start_ns == 1_090 * 10**9
    assert w.end_ns == resolve_time("2026-11-23T02:00:00+00:00", 0)
    assert w.active(w.start_ns) and not w.active(w.end_ns)
