"""Invalid configs of the connectivity/portal probes: the error names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config, parse_config
from agent.errors import ConfigError
from agent.probes.traceroute import Hop, classify

DATA = Path(__file__).parent / "data" / "invalid"

CASES = [
    ("ping-bad-role.yaml", "probes.ping.targets[0].role"),
    ("dns-bad-address.yaml", "probes.dns.resolvers[0].address"),
    ("http-bad-catalogue.yaml", "probes.http"),
    ("tcp-missing-port.yaml", "probes.tcp.targets[0]"),
    ("uplink-unknown-key.yaml", "probes.uplink.links[0].gateway"),
    ("traceroute-max-hops.yaml", "probes.traceroute.max_hops"),
]


@pytest.mark.parametrize(("name", "field"), CASES)
def test_invalid_config_names_file_and_field(name: str, field: str) -> None:
    path = DATA / name
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: "), msg
    assert field in msg, msg


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
