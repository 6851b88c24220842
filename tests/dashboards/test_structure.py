"""The generated dashboards: reproducible, well-formed, and wired to the provisioned data sources."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import generate
from tests.dashboards.panels import JSON_DIR, dashboards, panels, targets, variables_used

PROVISIONING = JSON_DIR.parent / "provisioning"


def provisioned_datasources() -> dict[str, str]:
    out: dict[str, str] = {}
    for f in sorted((PROVISIONING / "datasources").glob("*.yaml")):
        for ds in yaml.safe_load(f.read_text("utf-8"))["datasources"]:
            assert out.get(ds["uid"], ds["type"]) == ds["type"], f"{f}: uid {ds['uid']} with two types"
            out[ds["uid"]] = ds["type"]
    return out


def test_regenerating_reproduces_the_committed_json_exactly() -> None:
    files = generate.generate()
    committed = {p.name: p.read_text("utf-8") for p in JSON_DIR.glob("*.json")}
    assert set(files) == set(committed)
    for name, text in files.items():
        assert text == committed[name], f"{name} differs: run python -m dashboards.generate"
    docs = generate.DOCS.read_text("utf-8")
    assert docs == generate.docs_text(docs), "docs/dashboards.md panel tables differ: run python -m dashboards.generate"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    assert generate.main(["--out", str(tmp_path)]) == 0
    assert generate.main(["--out", str(tmp_path), "--check"]) == 0
    victim = next(tmp_path.glob("*.json"))
    victim.write_text(victim.read_text("utf-8").replace("Toàn tỉnh", "Toan tinh"), "utf-8")
    assert generate.main(["--out", str(tmp_path), "--check"]) == 1


def test_six_dashboards_with_stable_unique_uids_and_vietnamese_titles() -> None:
    boards = dashboards()
    assert len(boards) == 6
    uids = [b["uid"] for b in boards.values()]
    assert len(set(uids)) == 6 and all(u.startswith("cm-") for u in uids)
    assert {b["title"] for b in boards.values()} == {
        "Toàn tỉnh — tổng quan", "Chi tiết xã/phường", "Cổng dịch vụ công", "Chữ ký số", "Thiết bị mạng",
        "Agent và collector"}
    for b in boards.values():
        assert b["timezone"] == "Asia/Ho_Chi_Minh" and b["description"]


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_panels_have_unique_ids_targets_descriptions_and_do_not_overlap(name: str) -> None:
    board = dashboards()[name]
    ps = list(panels(board))
    ids = [p["id"] for p in ps]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for p in ps:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]
        if p["type"] == "row":
            continue
        assert p.get("targets"), f"{p['title']} has no targets"
        assert p.get("description"), f"{p['title']} has no description"
        assert re.search(r"[ạ-ỹà-ýăđơư]", p["title"] + p["description"], re.IGNORECASE), p["title"]


def test_every_datasource_reference_resolves_to_a_provisioned_one() -> None:
    provisioned = provisioned_datasources()
    refs: list[dict[str, Any]] = [t.datasource for t in targets()]
    refs += [v["datasource"] for b in dashboards().values() for v in b["templating"]["list"] if "datasource" in v]
    assert refs
    for ref in refs:
        assert provisioned.get(ref["uid"]) == ref["type"], ref
    assert {"cm-influxdb", "cm-alertmanager"} <= set(provisioned)


def test_every_template_variable_used_is_defined() -> None:
    for name, board in dashboards().items():
        defined = {v["name"] for v in board["templating"]["list"]}
        used: set[str] = set()
        for t in targets():
            if t.dashboard == name:
                used |= variables_used(t.query)
        for v in board["templating"]["list"]:
            used |= variables_used(v.get("query", "")) - {"__from", "__to"}
        assert used <= defined, f"{name}: undefined {used - defined}"
        assert all(not v.startswith("tag_") for v in used)


def test_drill_down_links_point_at_existing_dashboards() -> None:
    boards = dashboards()
    uids = {b["uid"] for b in boards.values()}
    text = "\n".join(p.read_text("utf-8") for p in JSON_DIR.glob("*.json"))
    linked = set(re.findall(r"/d/(cm-[a-z-]+)", text))
    assert "cm-commune-detail" in linked and linked <= uids
    overview = boards["province-overview"]
    assert {link["url"] for link in overview["links"]} >= {"/d/cm-service-portals", "/d/cm-agent-fleet"}


def test_dashboard_provider_points_at_a_folder() -> None:
    prov = yaml.safe_load((PROVISIONING / "dashboards" / "commune-monitor.yaml").read_text("utf-8"))
    p = prov["providers"][0]
    assert p["type"] == "file" and p["folderUid"] and p["options"]["path"]



def test_the_docs_name_every_dashboard_and_panel() -> None:
    doc = (JSON_DIR.parents[1] / "docs" / "dashboards.md").read_text("utf-8")
    for board in dashboards().values():
        assert board["title"] in doc and board["uid"] in doc
        for p in panels(board):
            if p["type"] != "row":
                assert f"| {p['title']} | {p['description']} |" in doc, p["title"]
