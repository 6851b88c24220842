"""snmp probe against real agents: snmpsim serving snmpsim-data recordings of real devices, and net-snmp's
snmpd on loopback (v2c and v3 authPriv). Values are compared with what net-snmp's snmpwalk reads."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from agent.probes.base import ProbeContext
from agent.probes.snmp import SnmpConfig, SnmpProbe
from agent.probes.snmp.mib import IF_COLUMNS
from agent.units import dec_hook
from agent.wire import SCHEMA_VERSION, Batch, Point, decode_batch, encode
from tests.support import snmp_env
from tests.support.schema import conforming
from tests.support.snmp_env import V3_AUTH, V3_PRIV, V3_USER, column, snmp_cli

pytestmark = pytest.mark.integration


CISCO = "cisco-c3560"
HUAWEI = "huawei-s5720"
LIVE = "c3560-live"  # the cisco recording with writable counters, oper status and sysUpTime
SLOW = "slow-converter"  # a real recording whose sysUpTime answer takes 2.5 s (snmpsim's delay variation)
UPLINK_NAME, UPLINK_INDEX = "Gi0/49", "10149"
WRITABLE = (
    "1.3.6.1.2.1.1.3.0",  # sysUpTime
    IF_COLUMNS["oper"], IF_COLUMNS["in_octets64"], IF_COLUMNS["out_octets64"], IF_COLUMNS["in_errors"],
)


@pytest.fixture(scope="module")
def snmpsim() -> Iterator[snmp_env.Agent]:
    venv = snmp_env.snmpsim_venv()
    cisco = snmp_env.recording(venv, "network/switch/cisco-c3560")
    recordings = {
        CISCO: cisco,
        HUAWEI: snmp_env.recording(venv, "network/router/huawei-s5720"),
        LIVE: snmp_env.writecache(cisco, WRITABLE),
        SLOW: snmp_env.delayed(snmp_env.recording(venv, "network/switch/cts-media-converter"), "1.3.6.1.2.1.1.3.0",
                               wait_ms=2500),
    }
    with snmp_env.run_snmpsim(recordings) as agent:
        yield agent


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[snmp_env.Agent]:
    with snmp_env.run_snmpd(tmp_path_factory.mktemp("snmpd")) as agent:
        yield agent


RATE_FIELDS = {"in_bps", "out_bps", "in_util_percent", "out_util_percent", "in_errors_per_s", "out_errors_per_s",
               "in_discards_per_s", "out_discards_per_s"}


class Clock:
    """The probe's clock, moved by the test: rates are then exact, with no sleeping."""

    def __init__(self) -> None:
        self.ns = 1_800_000_000 * 10**9

    def __call__(self) -> int:
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


def make_probe(devices: list[dict[str, Any]], clock: Clock | None = None, **extra: Any) -> SnmpProbe:
    cfg = msgspec.convert({"devices": devices, **extra}, SnmpConfig, dec_hook=dec_hook)
    ctx = ProbeContext(agent_id="t5", clock_ns=clock or Clock())
    return SnmpProbe(cfg, ctx)


async def collect(probe: SnmpProbe) -> list[Point]:
    return conforming(await probe.collect())


def assert_wire_valid(points: list[Point]) -> None:
    """The points pass the collector's strict decoder (names, tag values, field counts, finite numbers)."""
    batch = Batch(v=SCHEMA_VERSION, agent="t5", seq=1, sent=1, points=points)
    assert decode_batch(encode(batch)).points == points


def device_point(points: list[Point], name: str) -> Point:
    return next(p for p in points if p.m == "snmp_device" and p.tg["device"] == name)


def interfaces(points: list[Point], name: str) -> dict[str, Point]:
    return {p.tg["if_index"]: p for p in points if p.m == "snmp_interface" and p.tg["device"] == name}


async def snmp_set(port: int, community: str, values: list[tuple[str, str, int]]) -> None:
    """SET values on the snmpsim writecache device (net-snmp's snmpset cannot send Counter64)."""
    from pysnmp.hlapi.v3arch import asyncio as hl

    kinds = {"c64": hl.Counter64, "c32": hl.Counter32, "ticks": hl.TimeTicks, "int": hl.Integer}
    engine = hl.SnmpEngine()
    try:
        target = await hl.UdpTransportTarget.create(("127.0.0.1", port), timeout=2, retries=2)
        err, status, _, _ = await hl.set_cmd(
            engine, hl.CommunityData(community), target, hl.ContextData(),
            *(hl.ObjectType(hl.ObjectIdentity(oid), kinds[kind](v)) for oid, kind, v in values),
        )
        assert not err, f"SET failed: {err}"
        assert not status, f"SET failed: {status}"
    finally:
        engine.close_dispatcher()


def walk_int(port: int, community: str, col: str) -> dict[str, int]:
    return {k: int(v) for k, v in column(snmp_cli("snmpwalk", "-v2c", "-c", community, f"127.0.0.1:{port}", col), col).items()}


# --- recordings of real devices --------------------------------------------------------------------------

async def test_cisco_switch_matches_snmpwalk(snmpsim: snmp_env.Agent) -> None:
    probe = make_probe([{"name": "sw-core", "host": "127.0.0.1", "port": snmpsim.port, "community": CISCO,
                         "uplink": UPLINK_NAME}])
    try:
        points = await collect(probe)
    finally:
        await probe.close()
    assert_wire_valid(points)
    dev = device_point(points, "sw-core")
    assert dev.f["result"] == "ok", dev.f
    assert dev.tg["vendor"] == "cisco"

    target = f"127.0.0.1:{snmpsim.port}"
    system = dict(snmp_cli("snmpget", "-v2c", "-c", CISCO, target, "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"))
    assert dev.f["sys_name"] == system["1.3.6.1.2.1.1.5.0"]
    assert dev.f["uptime_s"] == int(system["1.3.6.1.2.1.1.3.0"]) / 100.0

    rows = snmp_cli("snmpwalk", "-v2c", "-c", CISCO, target, "1.3.6.1.2.1.2.2.1")
    rows += snmp_cli("snmpwalk", "-v2c", "-c", CISCO, target, "1.3.6.1.2.1.31.1.1.1")
    names = column(rows, IF_COLUMNS["name"])
    oper = column(rows, IF_COLUMNS["oper"])
    admin = column(rows, IF_COLUMNS["admin"])
    hc_in = column(rows, IF_COLUMNS["in_octets64"])
    high = column(rows, IF_COLUMNS["high_speed"])
    ifs = interfaces(points, "sw-core")
    assert len(names) >= 48
    assert set(ifs) == set(column(rows, IF_COLUMNS["descr"]))
    assert dev.f["interfaces"] == len(ifs)
    assert dev.f["interfaces_up"] == sum(1 for v in oper.values() if v == "1")
    for idx, p in ifs.items():
        assert p.tg["interface"] == names[idx]
        assert p.f["oper_status"] == int(oper[idx])
        assert p.f["admin_status"] == int(admin[idx])
        assert p.f["oper_up"] == int(oper[idx] == "1")
        if idx in hc_in:
            assert p.f["in_octets"] == int(hc_in[idx])
        if idx in high and int(high[idx]) > 0:
            assert p.f["speed_bps"] == int(high[idx]) * 1_000_000
        assert not set(p.f) & RATE_FIELDS  # first poll: no rate yet
    assert ifs[UPLINK_INDEX].tg.get("role") == "uplink"
    assert dev.f["uplink_up"] == 1
    # a 57-interface switch: multi-column GETBULK keeps it to a few dozen requests
    assert dev.f["requests"] < 40


async def test_huawei_profile_cpu_and_memory(snmpsim: snmp_env.Agent) -> None:
    probe = make_probe([{"name": "r1", "host": "127.0.0.1", "port": snmpsim.port, "community": HUAWEI}])
    try:
        points = await collect(probe)
    finally:
        await probe.close()
    assert_wire_valid(points)
    dev = device_point(points, "r1")
    assert dev.f["result"] == "ok"
    assert dev.tg["vendor"] == "huawei"
    cpu = walk_int(snmpsim.port, HUAWEI, "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5")
    mem = walk_int(snmpsim.port, HUAWEI, "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.7")
    assert cpu
    assert mem
    assert dev.f["cpu_percent"] == float(max(cpu.values()))
    assert dev.f["mem_percent"] == float(max(mem.values()))


async def test_profile_from_config_and_missing_oids(snmpsim: snmp_env.Agent) -> None:
    """A profile added in config wins over the built-in one; OIDs the device lacks give no field, no error."""
    probe = make_probe(
        [{"name": "sw", "host": "127.0.0.1", "port": snmpsim.port, "community": CISCO, "interfaces": ["Gi0/49", "2"],
          "uplink": "Gi9/99"}],
        profiles=[{"name": "c3560-custom", "sys_object_id_prefixes": ["1.3.6.1.4.1.9.1.617"],
                   "cpu_oid": "1.3.6.1.4.1.9.9.999.1", "mem_percent_oid": "1.3.6.1.4.1.9.9.999.2"}],
    )
    try:
        points = await collect(probe)
    finally:
        await probe.close()
    dev = device_point(points, "sw")
    assert dev.f["result"] == "ok"
    assert dev.tg["vendor"] == "c3560-custom"
    assert "cpu_percent" not in dev.f  # neither the custom OID nor HOST-RESOURCES answer on this switch
    assert set(interfaces(points, "sw")) == {UPLINK_INDEX, "2"}
    assert dev.f["uplink_found"] == 0  # a wrong uplink name is a warning in check, not a failed device
    assert "Gi9/99" in str(dev.f["reason"])
    assert [line.status for line in SnmpProbe.check_lines(points)] == ["warn"]


# --- rates, wraps, reboots ---------------------------------------------------------------------------------

async def test_rates_and_reboot_against_snmpwalk(snmpsim: snmp_env.Agent) -> None:
    port = snmpsim.port
    clock = Clock()
    probe = make_probe([{"name": "sw", "host": "127.0.0.1", "port": port, "community": LIVE, "uplink": UPLINK_NAME,
                         "uplink_bandwidth_mbps": 100}], clock)
    in_oid = f"{IF_COLUMNS['in_octets64']}.{UPLINK_INDEX}"
    out_oid = f"{IF_COLUMNS['out_octets64']}.{UPLINK_INDEX}"
    err_oid = f"{IF_COLUMNS['in_errors']}.{UPLINK_INDEX}"
    try:
        first = await collect(probe)
        before_in = walk_int(port, LIVE, IF_COLUMNS["in_octets64"])[UPLINK_INDEX]
        before_out = walk_int(port, LIVE, IF_COLUMNS["out_octets64"])[UPLINK_INDEX]
        assert interfaces(first, "sw")[UPLINK_INDEX].f["in_octets"] == before_in

        # 60 s later: 450 MB in (60 Mbit/s = 60 % of the 100 Mbit/s contract), 30 MB out, 120 input errors
        await snmp_set(port, LIVE, [(in_oid, "c64", before_in + 450_000_000), (out_oid, "c64", before_out + 30_000_000),
                                    (err_oid, "c32", 120)])
        clock.advance(60)
        second = await collect(probe)
        assert_wire_valid(second)
        after_in = walk_int(port, LIVE, IF_COLUMNS["in_octets64"])[UPLINK_INDEX]
        after_out = walk_int(port, LIVE, IF_COLUMNS["out_octets64"])[UPLINK_INDEX]
        up = interfaces(second, "sw")[UPLINK_INDEX]
        assert up.f["in_octets"] == after_in
        assert up.f["in_bps"] == pytest.approx((after_in - before_in) * 8 / 60)
        assert up.f["out_bps"] == pytest.approx((after_out - before_out) * 8 / 60)
        assert up.f["in_util_percent"] == pytest.approx(60.0)
        assert up.f["in_errors_per_s"] == pytest.approx(2.0)
        dev = device_point(second, "sw")
        assert dev.f["rebooted"] == 0
        assert dev.f["uplink_saturated"] == 0
        assert all(p.f.get("in_bps", 0) >= 0 for p in interfaces(second, "sw").values())

        # saturated uplink: 90 Mbit/s for 60 s
        await snmp_set(port, LIVE, [(in_oid, "c64", after_in + 675_000_000)])
        clock.advance(60)
        third = await collect(probe)
        dev = device_point(third, "sw")
        assert dev.f["uplink_saturated"] == 1
        assert dev.f["uplink_in_util_percent"] == pytest.approx(90.0)
        assert [(line.status, line.section) for line in SnmpProbe.check_lines(third)] == [("warn", "Thiết bị mạng")]

        # reboot: sysUpTime and counters start again from small values
        await snmp_set(port, LIVE, [("1.3.6.1.2.1.1.3.0", "ticks", 1500), (in_oid, "c64", 1000), (out_oid, "c64", 500),
                                    (err_oid, "c32", 0)])
        clock.advance(60)
        fourth = await collect(probe)
        assert_wire_valid(fourth)
        dev = device_point(fourth, "sw")
        assert dev.f["rebooted"] == 1
        assert dev.f["uptime_s"] == 15.0
        events = [p for p in fourth if p.m == "snmp_event"]
        assert len(events) == 1
        assert events[0].tg == {"device": "sw", "event": "reboot"}
        assert events[0].f["uptime_s"] == 15.0
        assert events[0].f["previous_uptime_s"] > 1e6
        for p in interfaces(fourth, "sw").values():  # no negative or absurd rates across a restart
            assert not set(p.f) & RATE_FIELDS, p.f
        lines = SnmpProbe.check_lines(fourth)
        assert lines[0].status == "warn"
        assert "khởi động lại" in lines[0].text

        # the round after the restart has rates again
        await snmp_set(port, LIVE, [("1.3.6.1.2.1.1.3.0", "ticks", 7500), (in_oid, "c64", 1000 + 7_500_000)])
        clock.advance(60)
        fifth = await collect(probe)
        assert device_point(fifth, "sw").f["rebooted"] == 0
        assert interfaces(fifth, "sw")[UPLINK_INDEX].f["in_bps"] == pytest.approx(1_000_000.0)

        # uplink goes down
        await snmp_set(port, LIVE, [(f"{IF_COLUMNS['oper']}.{UPLINK_INDEX}", "int", 2)])
        clock.advance(60)
        sixth = await collect(probe)
        dev = device_point(sixth, "sw")
        assert dev.f["result"] == "uplink_down"
        assert dev.f["ok"] == 0
        assert dev.f["uplink_up"] == 0
        assert SnmpProbe.check_lines(sixth)[0].status == "fail"
    finally:
        await probe.close()
        # leave the writable device as the next test run expects it
        await snmp_set(port, LIVE, [(f"{IF_COLUMNS['oper']}.{UPLINK_INDEX}", "int", 1)])


# --- failures ----------------------------------------------------------------------------------------------

async def test_dead_device_does_not_delay_the_others(snmpsim: snmp_env.Agent) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        # a dead device with a long timeout, polled together with a live one
        probe = make_probe([
            {"name": "dead", "host": "127.0.0.1", "port": silent.getsockname()[1], "timeout": 25, "retries": 0},
            {"name": "alive", "host": "127.0.0.1", "port": snmpsim.port, "community": HUAWEI},
        ])
        try:
            dead_task = asyncio.create_task(probe.poll_device(probe.config.devices[0]))
            alive = conforming(await probe.poll_device(probe.config.devices[1]))
            assert device_point(alive, "alive").f["result"] == "ok"
            assert not dead_task.done()  # the live device finished while the dead one was still waiting
            dead_task.cancel()
        finally:
            await probe.close()
        # the dead device's own result, with a short timeout
        probe = make_probe([{"name": "dead", "host": "127.0.0.1", "port": silent.getsockname()[1], "timeout": 0.5,
                             "retries": 1}])
        try:
            dead = device_point(await collect(probe), "dead")
        finally:
            await probe.close()
    finally:
        silent.close()
    assert dead.f["result"] == "timeout"
    assert dead.f["ok"] == 0
    assert "RequestTimedOut" in str(dead.f["reason"])
    lines = SnmpProbe.check_lines([dead])
    assert lines[0].status == "fail"
    assert "không trả lời" in lines[0].text


async def test_slow_device_hits_its_poll_deadline(snmpsim: snmp_env.Agent) -> None:
    """A device that answers, but too slowly for the round, gives a timeout point within the round."""
    probe = make_probe([{"name": "slow", "host": "127.0.0.1", "port": snmpsim.port, "community": SLOW,
                         "timeout": 10, "retries": 0}], timeout=1.5)
    try:
        dev = device_point(await collect(probe), "slow")
    finally:
        await probe.close()
    assert dev.f["result"] == "timeout"
    assert "did not finish within 1.35s" in str(dev.f["reason"])


# --- net-snmp snmpd, v2c and v3 ----------------------------------------------------------------------------

def v3(auth_key: str = V3_AUTH, priv_key: str = V3_PRIV) -> dict[str, Any]:
    return {"user": V3_USER, "auth_protocol": "sha", "auth_key": auth_key, "priv_protocol": "aes", "priv_key": priv_key}


async def test_snmpd_v3_authpriv_matches_snmpwalk(snmpd: snmp_env.Agent) -> None:
    clock = Clock()
    probe = make_probe([{"name": "gw", "host": "127.0.0.1", "port": snmpd.port, "version": "3", "v3": v3(),
                         "uplink": "lo"}], clock)
    target = f"127.0.0.1:{snmpd.port}"
    cli_v3 = ["-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA", "-A", V3_AUTH, "-x", "AES", "-X", V3_PRIV, target]
    try:
        first = await collect(probe)
        rows = snmp_cli("snmpwalk", *cli_v3, "1.3.6.1.2.1.2.2.1")
        clock.advance(30)
        second = await collect(probe)
    finally:
        await probe.close()
    dev = device_point(first, "gw")
    assert dev.f["result"] == "ok", dev.f
    assert dev.f["sys_name"] == "lab-router"
    assert dev.tg["vendor"] == "netsnmp"
    assert isinstance(dev.f.get("mem_percent"), float)
    assert 0 < dev.f["mem_percent"] <= 100
    descr = column(rows, IF_COLUMNS["descr"])
    oper = column(rows, IF_COLUMNS["oper"])
    ifs = interfaces(first, "gw")
    assert {p.f["if_descr"] for p in ifs.values()} == set(descr.values())
    for idx, p in ifs.items():
        assert p.f["oper_status"] == int(oper[idx])
    # lo's counters move between the polls (our own SNMP traffic): snmpwalk read a value in between
    lo = next(idx for idx, d in descr.items() if d == "lo")
    c1 = interfaces(first, "gw")[lo].f["in_octets"]
    c2 = interfaces(second, "gw")[lo].f["in_octets"]
    assert isinstance(c1, int)
    assert isinstance(c2, int)
    walked = int(column(rows, IF_COLUMNS["in_octets32"])[lo])
    assert c1 % 2**32 <= walked <= c2 % 2**32 or c2 < c1  # (the 32-bit column may have wrapped)
    assert interfaces(second, "gw")[lo].f["in_bps"] == pytest.approx((c2 - c1) * 8 / 30)
    assert device_point(second, "gw").f["uplink_up"] == 1


@pytest.mark.parametrize(("auth_key", "priv_key", "says"), [
    ("wrong-auth-key", V3_PRIV, "WrongDigest"),  # the agent reports a wrong digest
    (V3_AUTH, "wrong-priv-key", "privacy key"),  # the agent silently drops what it cannot decrypt: diagnosed
])
async def test_snmpd_v3_wrong_keys(snmpd: snmp_env.Agent, auth_key: str, priv_key: str, says: str) -> None:
    probe = make_probe([{"name": "gw", "host": "127.0.0.1", "port": snmpd.port, "version": "3",
                         "v3": v3(auth_key, priv_key), "timeout": 1, "retries": 0}])
    try:
        points = await collect(probe)
    finally:
        await probe.close()
    dev = device_point(points, "gw")
    assert dev.f["ok"] == 0
    assert dev.f["result"] == "auth_error", dev.f
    assert says in str(dev.f["reason"])
    line = SnmpProbe.check_lines(points)[0]
    assert line.status == "fail"
    assert "mật khẩu" in line.text


async def test_same_v3_user_with_other_keys_on_two_devices(snmpd: snmp_env.Agent) -> None:
    """Two devices with the same v3 user name but different keys in one probe do not mix their keys."""
    probe = make_probe([
        {"name": "good", "host": "127.0.0.1", "port": snmpd.port, "version": "3", "v3": v3()},
        {"name": "bad", "host": "127.0.0.1", "port": snmpd.port, "version": "3", "v3": v3("wrong-auth-key"),
         "timeout": 1, "retries": 0},
    ])
    try:
        points = await collect(probe)
    finally:
        await probe.close()
    assert device_point(points, "good").f["result"] == "ok"
    assert device_point(points, "bad").f["result"] == "auth_error"


async def test_snmpd_v2c_wrong_community_is_a_timeout(snmpd: snmp_env.Agent) -> None:
    probe = make_probe([{"name": "gw", "host": "127.0.0.1", "port": snmpd.port, "community": "nope",
                         "timeout": 0.5, "retries": 0}])
    try:
        dev = device_point(await collect(probe), "gw")
    finally:
        await probe.close()
    assert dev.f["result"] == "timeout"  # v2c agents drop unknown communities silently


# --- config ------------------------------------------------------------------------------------------------

def test_agent_start_does_not_import_snmp_or_scapy() -> None:
    """pysnmp and scapy are imported only when the snmp / lan probes run, never by ``import agent.probes``."""
    import subprocess
    import sys

    code = ("import sys, agent.probes, agent.config; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pysnmp', 'pyasn1', 'scapy', 'cryptography'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         cwd=snmp_env.REPO, env={"PYTHONPATH": str(snmp_env.REPO)})
    assert out.stdout.strip() == "[]"
