from __future__ import annotations

import urllib.request

import pytest

from collector.lineproto import LineEncoder, escape_key, format_value
from tests.support.services import Influx


def test_escaping_rules() -> None:
    assert escape_key("a b,c=d") == r"a\ b\,c\=d"
    assert format_value(1) == "1i" and format_value(1.0) == "1.0" and format_value(True) == "true"
    assert format_value('say "hi" \\ now') == r'"say \"hi\" \\ now"'
    enc = LineEncoder()
    line = enc.line("http", {"service": "Cổng DVC", "url": "https://x/?a=1,b=2"}, {"ok": 1, "reason": ""}, 5)
    assert line == r'http,service=Cổng\ DVC,url=https://x/?a\=1\,b\=2 ok=1i,reason="" 5'


@pytest.mark.integration
def test_influxdb_reads_back_exactly_what_we_wrote(influx: tuple[Influx, str]) -> None:
    server, db = influx
    enc = LineEncoder()
    tags = {"commune_name": "Xã Hạ Hòa", "site": "điểm 2, thôn Đồng", "weird": "a=b c\\", "agent": "pc-01"}
    fields = {"reason": 'lỗi "kết nối"\nmới', "n": 42, "x": 0.5, "up": True}
    body = enc.line("meas with space", tags, fields, 1_700_000_000_000_000_000).encode()
    req = urllib.request.Request(f"{server.url}/write?db={db}&precision=ns", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204
    rows = server.rows('SELECT * FROM "meas with space"', db)
    assert len(rows) == 1
    row = rows[0]
    assert row["commune_name"] == "Xã Hạ Hòa"
    assert row["site"] == "điểm 2, thôn Đồng"
    assert row["weird"] == "a=b c"  # a trailing backslash cannot be stored: removed
    assert row["reason"] == 'lỗi "kết nối" mới'
    assert row["n"] == 42 and row["x"] == 0.5 and row["up"] is True


def test_point_line_equals_line_with_merged_tags() -> None:
    enc = LineEncoder()
    ident = {"commune": "07900", "commune_name": "Phường Việt Trì", "agent": "pc-1"}
    for tags in ({}, {"service": "Cổng DVC"}, {"zeta": "1", "alpha": "2"}):
        for _ in range(2):  # the second round comes from the cache
            assert enc.point_line("pc-1", ident, "http", tags, {"ok": 1}, 7) == enc.line("http", {**tags, **ident}, {"ok": 1}, 7)
    assert enc.point_line("pc-2", {**ident, "agent": "pc-2"}, "http", {}, {"ok": 1}, 7).count("agent=pc-2") == 1
