"""``commune-collector dashboards push`` against a local stand-in of Grafana's HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector import cli
from collector.grafana_push import PushError, push
from tests.dashboards.panels import JSON_DIR
from tests.support.grafana_standin import GrafanaStandIn

TOKEN = "glsa_test_token_0123456789"


def test_push_creates_the_folder_and_saves_every_dashboard_with_overwrite(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with GrafanaStandIn(TOKEN) as grafana:
        rc = cli.main(["dashboards", "push", "--url", grafana.url, "--token-file", str(token_file),
                       "--dir", str(JSON_DIR)])
        assert rc == 0
        st = grafana.state
        assert st.folders["commune-monitor"]["title"] == "Commune Monitor"
        committed = {json.loads(p.read_text("utf-8"))["uid"]: json.loads(p.read_text("utf-8"))
                     for p in JSON_DIR.glob("*.json")}
        assert set(st.dashboards) == set(committed) and len(committed) == 6
        for uid, saved in st.dashboards.items():
            assert saved["folderUid"] == "commune-monitor" and saved["version"] == 1
            assert saved["dashboard"]["panels"] == committed[uid]["panels"]
        saves = [r for r in st.requests if r.path == "/api/dashboards/db"]
        assert all(r.body["overwrite"] is True and r.body["dashboard"]["id"] is None for r in saves)
        assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in st.requests)
        out = capsys.readouterr().out
        assert "folder commune-monitor: created" in out and "cm-province-overview: version 1" in out

        # again: the folder exists, every dashboard is overwritten (a new version), nothing is refused
        assert cli.main(["dashboards", "push", "--url", grafana.url, "--token-file", str(token_file),
                         "--dir", str(JSON_DIR)]) == 0
        assert len(st.folders) == 1 and {d["version"] for d in st.dashboards.values()} == {2}
        assert "folder commune-monitor: exists" in capsys.readouterr().out


def test_a_wrong_token_is_refused_with_grafanas_message(tmp_path: Path) -> None:
    with GrafanaStandIn(TOKEN) as grafana, pytest.raises(PushError, match="invalid API key"):
        push(grafana.url, "wrong", JSON_DIR)
    assert not grafana.state.dashboards


def test_cli_without_a_token_fails_clearly(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    assert cli.main(["dashboards", "push", "--url", "http://127.0.0.1:9", "--dir", str(JSON_DIR)]) == 2
    assert "no Grafana token" in capsys.readouterr().err


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PushError, match="no dashboards"):
        push("http://127.0.0.1:9", TOKEN, tmp_path)


def test_the_stand_in_refuses_what_grafana_refuses() -> None:
    """The stand-in's checks are real: a save into a missing folder or without overwrite over a newer version
    fails as Grafana's does."""
    import urllib.error
    import urllib.request

    def post(url: str, body: object, token: str = TOKEN) -> int:
        req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    with GrafanaStandIn(TOKEN) as g:
        board = {"uid": "x1", "title": "Bảng thử"}
        assert post(f"{g.url}/api/dashboards/db", {"dashboard": board, "folderUid": "nope"}) == 400
        assert post(f"{g.url}/api/dashboards/db", {"dashboard": board}) == 200
        assert post(f"{g.url}/api/dashboards/db", {"dashboard": {**board, "version": 0}}) == 412
        assert post(f"{g.url}/api/dashboards/db", {"dashboard": board, "overwrite": True}) == 200
        assert post(f"{g.url}/api/dashboards/db", {"dashboard": {"uid": "x2", "title": " "}}) == 400
        assert post(f"{g.url}/api/folders", {"title": "A", "uid": "bad uid!"}) == 400
        assert post(f"{g.url}/api/folders", {"title": "A", "uid": "a"}, token="nope") == 401
