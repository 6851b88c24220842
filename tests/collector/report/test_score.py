"""The documented score formula, grades, competition ranking and month-on-month change."""

from __future__ import annotations

from collector.config import Inventory
from collector.influx import V1Writer
from collector.report import score
from collector.report.collect import collect
from collector.report.model import CommuneFigures, MonthData, SiteFigures
from collector.report.period import OfficeHours
from tests.support import report_seed as s

OFFICE = 9330


async def test_score_of_the_seeded_commune_follows_the_documented_weights(
        client: V1Writer, office: OfficeHours, inventory: Inventory) -> None:
    d = await collect(client, client.cfg.database, s.YEAR, s.MONTH, office, inventory, 25, [s.A, s.B, s.C])
    score.apply(d)
    conn = 100 * (2 * OFFICE - 1080) / (2 * OFFICE)
    portal = 100 * (OFFICE - 1200) / OFFICE
    expected = round((35 * conn + 20 * portal + 15 * 100 + 15 * 75 + 10 * 80 + 5 * 85) / 100, 1)
    a = d.communes[s.A]
    assert a.score == expected == 88.9
    assert a.grade == "Khá"
    # Nông Trang: all up when reporting, 2250 min without data; no tokens, no devices, no incidents
    nt_comp = 100 * (OFFICE - 2250) / OFFICE
    assert d.communes[s.B].score == round((35 * 100 + 20 * 100 + 15 * nt_comp + 0 + 10 * 100 + 5 * 100) / 100, 1)
    ranks = {c.code: c.rank for c in d.communes.values()}
    assert sorted(ranks.values()) == [1, 2, 3]


def _c(code: str, up: float) -> CommuneFigures:
    return CommuneFigures(code, code, sites=[SiteFigures(code, "x", 100, up_min=up, reported_min=100)],
                       sites_inventory=1, sites_reporting=1)


def test_ranking_shares_ranks_on_ties_and_change_uses_previous_month() -> None:
    now = MonthData(2026, 10, 25, "Phú Thọ", 100, "")
    prev = MonthData(2026, 9, 25, "Phú Thọ", 100, "")
    for code, up in (("1", 100), ("2", 50), ("3", 50), ("4", 0)):
        now.communes[code] = _c(code, up)
    prev.communes["2"] = _c("2", 100)
    prev.communes["3"] = CommuneFigures("3", "3", sites=[SiteFigures("3", "x", 100)])  # no data last month
    score.apply(now, prev)
    assert [now.communes[k].rank for k in "1234"] == [1, 2, 2, 4]
    # connectivity 35 + completeness 15 + network 10 + incidents 5 = 65 at full availability
    assert now.communes["1"].score == 65.0
    assert now.communes["2"].score == 47.5
    assert now.communes["2"].change == 47.5 - 65.0
    assert now.communes["1"].change is None
    assert now.communes["3"].change is None
    assert score.grade(90.0) == "Tốt" and score.grade(89.9) == "Khá" and score.grade(59.9) == "Yếu"
    assert score.distribution(now) == {"Tốt": 0, "Khá": 0, "Trung bình": 1, "Yếu": 3}
    assert sum(w for _, w, _ in score.WEIGHTS) == 100
