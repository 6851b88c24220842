"""Invalid configs of the connectivity/portal probes: the error names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config, parse_config
from agent.errors import ConfigError
from agent.probes.traceroute import Hop, classify
from tests.support.paths import INVALID

DATA = INVALID

def test_catalogue_error_names_the_catalogue() -> None:
    with pytest.raises(ConfigError, match="hanoi-does-not-exist"):
        load_config(DATA / "http-bad-catalogue.yaml")


def test_full_network_config_parses() -> None:
    cfg = parse_config({
        "agent": {"id": "x"},
        "probes": {
            "ping": {"targets": [{"host": "10.0.0.1", "role": "datacentre"}], "count": 10},
            "dns": {"resolvers": [{"address": "203.162.4.191", "name": "VNPT"}], "names": ["dichvucong.gov.vn"]},
            "tcp": {"targets": [{"host": "10.0.0.1", "port": 443}]},
            "http": {"catalogue": "phutho", "targets": [{"name": "dvc-phutho", "url": "https://x.test/"}]},
            "uplink": {"links": [{"name": "VNPT", "gateways": ["192.168.1.1"]}], "echo_urls": ["https://e.test/"]},
            "traceroute": {"targets": [{"host": "10.0.0.1"}]},
        },
    }, "mem.yaml")
    http = cfg.probes["http"]
    assert [t.url for t in http.targets if t.name == "dvc-phutho"] == ["https://x.test/"]  # type: ignore[attr-defined]
    assert len(http.targets) == 6  # type: ignore[attr-defined]


@pytest.mark.parametrize(("hops", "where"), [
    ([], "lan"),
    ([Hop(1, "10.0.0.1", False)], "first_isp_hop"),
    ([Hop(1, "10.0.0.1", False)] + [Hop(t, "10.0.0.1", False) for t in range(2, 6)], "first_isp_hop"),
    ([Hop(1, "10.0.0.1", False), Hop(2, "100.64.0.1", False)], "beyond"),
    ([Hop(1, "10.0.0.1", False), Hop(2, "8.8.8.8", True)], "reached"),
    ([Hop(3, "100.64.0.1", False)], "beyond"),
])
def test_traceroute_classification(hops: list[Hop], where: str) -> None:
    assert classify(hops) == where


def test_uplink_link_matching() -> None:
    from agent.probes.uplink import Link, match_link

    links = [Link(name="VNPT", gateways=["192.168.1.1"], public_prefixes=["113.160.0.0/11"]),
             Link(name="Viettel", gateways=["192.168.2.0/24"], interfaces=["wwan0"])]
    assert match_link(links, "192.168.1.1", "eth0") == "VNPT"
    assert match_link(links, "192.168.2.254", "eth0") == "Viettel"
    assert match_link(links, "10.0.0.1", "wwan0") == "Viettel"
    assert match_link(links, "10.0.0.1", "eth0", "113.161.2.3") == "VNPT"
    assert match_link(links, "10.0.0.1", "eth0", "27.72.0.1") == "unknown"


def test_default_route_from_proc_format(tmp_path: Path) -> None:
    from agent.net.netinfo import default_routes_linux

    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth1\t00000000\t0102A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n"
        "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    routes = default_routes_linux(table)
    assert [(r.gateway, r.interface) for r in routes] == [("192.168.1.1", "eth0"), ("192.168.2.1", "eth1")]
    table.write_text(table.read_text().splitlines()[0] + "\n")
    assert default_routes_linux(table) == []
