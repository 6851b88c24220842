"""``commune-collector status``: the table keeps its columns in line whatever the length of ids and names."""

from __future__ import annotations

from collector.config import CollectorConfig, CollectorFileConfig, parse_inventory
from collector.status import AgentRow, render

NOW = 1_800_000_000.0


def test_long_agent_ids_and_names_keep_every_column_aligned() -> None:
    ids = ("pc", "pc-viettri-motcua-01", "gw-phuong-van-phu-tru-so-chinh-02")
    inv = parse_inventory({"agents": {a: {"commune": "07900"} for a in ids}}, "fleet.yaml")
    cfg = CollectorConfig("collector.yaml", CollectorFileConfig(), inv)
    rows = [AgentRow(a, "07900", "Phường Việt Trì", "bo-phan-mot-cua-tang-1", int((NOW - 5) * 1e9),
                     {"cpu": 12.0, "mem": 40.0, "loss": 0.0, "rtt": 1.25, "n": 2, "ok": 2}) for a in ids]
    lines = render(rows, cfg, NOW).splitlines()
    header, body = lines[1], lines[2:5]
    for name in ("agent", "commune", "name", "site", "portals ok"):
        col = header.index(name)
        for line, agent in zip(body, ids, strict=True):
            assert line[col - 1] == " ", (name, line)  # every column starts after a gap in every row
            if name == "agent":
                assert line[col:].startswith(agent)  # the id is whole, not cut
            if name == "site":
                assert line[col:].startswith("bo-phan-mot-cua-tang-1")
    assert all(len(line) == len(header) for line in body)  # right-aligned last column ends in line
