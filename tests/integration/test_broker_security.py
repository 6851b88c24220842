"""Let no commune impersonate another: real Mosquitto with TLS, per-agent passwords and the generated ACL.

Negative checks ("nothing is delivered") are synchronised with a sentinel: MQTT keeps the order of one
publisher's messages to one subscriber, so once the sentinel published *after* the forbidden message has
arrived, the forbidden one would have arrived before it.
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml

from agent import wire
from collector import broker, enroll
from collector.config import load_inventory
from tests.support.pki import TestCA
from tests.support.services import need_binary, start_mosquitto, wait_for

pytestmark = pytest.mark.integration


@dataclass
class SecureBroker:
    port: int
    plain_port: int
    ca: Path
    passwords: dict[str, str]
    inventory: Path


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    need_binary("mosquitto")
    d = tmp_path / "broker"
    d.mkdir()
    ca = TestCA(d / "pki")
    server = ca.issue("broker", dns=("localhost",), ips=("127.0.0.1",))
    inv, passwd, acl = d / "fleet.yaml", d / "mosquitto.passwd", d / "mosquitto.acl"
    passwords = {}
    bundles = enroll.enroll([enroll.Request("pc-a", "07900"), enroll.Request("pc-b", "08740")], inv, passwd,
                            d / "enrolled", enroll.Broker("127.0.0.1", 8883, ca.ca_file), create_inventory=True)
    for b in bundles:
        assert b.password is not None
        passwords[b.agent_id] = b.password
        assert yaml.safe_load(b.config_path.read_text())["mqtt"]["password_file"] == "agent.password"
    passwords["collector"] = "collector-secret"
    broker.broker_files(load_inventory(inv), passwd, acl, passwords["collector"])
    from devstack.services import free_port

    port, plain_port = free_port(), free_port()
    conf = broker.listener_conf(port, passwd, acl, ca.ca_file, server.cert, server.key)
    svc, _ = start_mosquitto(d / "mosq", extra_conf=conf + "user root\n", anonymous=False, port=port,
                             plain_listener=False)
    yield SecureBroker(port, plain_port, ca.ca_file, passwords, inv)
    svc.stop()


class Client:
    """A paho client that records what it receives and how its connection ends."""

    def __init__(self, sb: SecureBroker, username: str | None, password: str | None = None, client_id: str = "",
                 tls: bool = True) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_rc: list[object] = []
        self.subscribed: queue.Queue[list[object]] = queue.Queue()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id or (username or "anon"),
                             protocol=paho.MQTTv5)
        if username:
            self.c.username_pw_set(username, password)
        if tls:
            self.c.tls_set(ca_certs=str(sb.ca))
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.put(list(rcs))
        self.sb = sb

    def _on_connect(self, c: object, u: object, flags: object, rc: object, props: object) -> None:
        self.connect_rc.append(rc)
        if not getattr(rc, "is_failure", False):
            self.connected.set()
        else:
            self.disconnected.set()

    def start(self) -> Client:
        self.c.connect("127.0.0.1", self.sb.port, keepalive=30)
        self.c.loop_start()
        return self

    def wait_connected(self) -> None:
        assert self.connected.wait(15), f"not connected: {self.connect_rc}"

    def subscribe(self, topic: str) -> list[object]:
        self.c.subscribe(topic, qos=1)
        return self.subscribed.get(timeout=15)

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(15)

    def receive_until(self, sentinel_topic: str) -> list[tuple[str, bytes]]:
        got = []
        while True:
            topic, payload = self.messages.get(timeout=15)
            if topic == sentinel_topic:
                return got
            got.append((topic, payload))

    def stop(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def clients(secure_broker: SecureBroker) -> Iterator[dict[str, Client]]:
    made: dict[str, Client] = {}
    for name in ("collector", "pc-a", "pc-b"):
        made[name] = Client(secure_broker, name, secure_broker.passwords[name]).start()
        made[name].wait_connected()
    yield made
    for c in made.values():
        c.stop()


def test_agent_cannot_publish_to_another_agents_topic(clients: dict[str, Client]) -> None:
    col, a = clients["collector"], clients["pc-a"]
    col.subscribe("cm/v1/+/metrics")
    a.publish("cm/v1/pc-b/metrics", b"forged")
    a.publish("cm/v1/pc-b/status", b"forged")
    a.publish("cm/v1/pc-a/metrics", b"sentinel")  # allowed: its own topic
    got = col.receive_until("cm/v1/pc-a/metrics")
    assert got == []


def test_agent_cannot_read_other_topics(clients: dict[str, Client]) -> None:
    col, a, b = clients["collector"], clients["pc-a"], clients["pc-b"]
    for topic in ("cm/v1/pc-b/ack", "cm/v1/pc-b/#", "#", "$SYS/#", "cm/v1/+/metrics"):
        a.subscribe(topic)
    a.subscribe("cm/v1/pc-a/ack")
    b.publish("cm/v1/pc-b/metrics", b"b's data")
    col.publish("cm/v1/pc-b/ack", b"ack for b")
    col.publish("cm/v1/pc-a/ack", b"sentinel")
    assert a.receive_until("cm/v1/pc-a/ack") == []


def test_client_id_takeover_does_not_disconnect_the_victim(secure_broker: SecureBroker, clients: dict[str, Client]) -> None:
    col, b = clients["collector"], clients["pc-b"]
    intruder = Client(secure_broker, "pc-a", secure_broker.passwords["pc-a"], client_id="pc-b").start()
    intruder.wait_connected()  # use_username_as_clientid: it becomes "pc-a", not "pc-b"
    col.subscribe("cm/v1/pc-b/metrics")
    b.publish("cm/v1/pc-b/metrics", b"still here")
    assert col.messages.get(timeout=15) == ("cm/v1/pc-b/metrics", b"still here")
    assert not b.disconnected.is_set()
    intruder.stop()


def test_wrong_password_and_anonymous_are_refused(secure_broker: SecureBroker) -> None:
    for username, password in (("pc-a", "wrong"), (None, None), ("pc-nobody", "x")):
        c = Client(secure_broker, username, password).start()
        assert c.disconnected.wait(15)
        assert not c.connected.is_set()
        c.stop()


def test_plain_text_is_refused(secure_broker: SecureBroker) -> None:
    # no plain listener exists: the TLS port does not speak plain MQTT
    c = Client(secure_broker, "pc-a", secure_broker.passwords["pc-a"], tls=False)
    c.c.connect("127.0.0.1", secure_broker.port, keepalive=5)
    c.c.loop_start()
    assert c.disconnected.wait(15) or not c.connected.wait(5)
    assert not c.connected.is_set()
    c.stop()
    with socket.create_connection(("127.0.0.1", secure_broker.port), timeout=5) as s:
        ctx = ssl.create_default_context(cafile=str(secure_broker.ca))
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_payload_claiming_another_identity_is_rejected(secure_broker: SecureBroker, clients: dict[str, Client]) -> None:
    from collector.validate import Validator

    col, a = clients["collector"], clients["pc-a"]
    col.subscribe("cm/v1/+/metrics")
    lie = wire.encode(wire.Batch(v=1, agent="pc-b", seq=1, sent=1, points=[wire.Point(m="x", t=1, f={"v": 1})]))
    a.publish("cm/v1/pc-a/metrics", lie)
    topic, payload = col.messages.get(timeout=15)
    validator = Validator(load_inventory(secure_broker.inventory))
    identity, kind = validator.identify(topic)
    assert identity.agent == "pc-a" and kind == "metrics"
    with pytest.raises(wire.WireError) as err:
        validator.metrics(identity, payload)
    assert err.value.reason == "identity_mismatch"


def test_real_agent_and_collector_over_tls(tmp_path: Path, secure_broker: SecureBroker) -> None:
    """The agent config written by enrolment works as is against the TLS broker."""
    from devstack.services import python_service

    enrolled = secure_broker.inventory.parent / "enrolled" / "pc-a" / "agent.yaml"
    doc = yaml.safe_load(enrolled.read_text())
    doc["mqtt"]["port"] = secure_broker.port
    doc["probes"] = {"synthetic": {"interval": "100ms", "rounds": 5, "points_per_round": 3}}
    doc["queue"] = {"flush_interval": "50ms"}
    cfg = enrolled.parent / "test-agent.yaml"  # beside the bundle's password and CA (relative paths)
    cfg.write_text(yaml.safe_dump(doc))
    agent = python_service("agent", tmp_path / "a", ["agent.cli", "run", "-c", str(cfg), "--state-dir",
                                                      str(tmp_path / "a")], lambda: True)
    watcher = Client(secure_broker, "collector", secure_broker.passwords["collector"]).start()
    watcher.wait_connected()
    watcher.subscribe("cm/v1/pc-a/metrics")
    agent.start()
    try:
        topic, payload = watcher.messages.get(timeout=30)
        assert topic == "cm/v1/pc-a/metrics"
        assert wire.decode_batch(payload).agent == "pc-a"
        assert wait_for(lambda: agent.pid() is not None, 5)
    finally:
        agent.stop()
        watcher.stop()


def test_client_certificates_as_identity(tmp_path: Path) -> None:
    """Optional mode: the broker requires a client certificate and takes the username from its CN."""
    need_binary("mosquitto")
    from devstack.services import free_port

    ca = TestCA(tmp_path / "pki")
    server = ca.issue("broker", ips=("127.0.0.1",))
    inv, passwd, acl = tmp_path / "fleet.yaml", tmp_path / "passwd", tmp_path / "acl"
    enroll.enroll([enroll.Request("pc-a", "07900"), enroll.Request("pc-b", "08740")], inv, passwd,
                  tmp_path / "enrolled", enroll.Broker("127.0.0.1", 8883), create_inventory=True)
    broker.broker_files(load_inventory(inv), passwd, acl)
    port = free_port()
    conf = broker.listener_conf(port, passwd, acl, ca.ca_file, server.cert, server.key, require_client_cert=True)
    svc, _ = start_mosquitto(tmp_path / "mosq", extra_conf=conf + "user root\n", anonymous=False, port=port,
                             plain_listener=False)
    sb = SecureBroker(port, 0, ca.ca_file, {}, inv)
    made = []

    def client(cn: str | None) -> Client:
        c = Client(sb, None, tls=False, client_id=cn or "nocert")
        certs = ca.issue(cn, client=True) if cn else None
        c.c.tls_set(ca_certs=str(ca.ca_file), certfile=str(certs.cert) if certs else None,
                    keyfile=str(certs.key) if certs else None)
        made.append(c)
        return c.start()

    try:
        col, a = client("collector"), client("pc-a")
        col.wait_connected()
        a.wait_connected()
        col.subscribe("cm/v1/+/metrics")
        a.publish("cm/v1/pc-b/metrics", b"forged")
        a.publish("cm/v1/pc-a/metrics", b"sentinel")
        assert col.receive_until("cm/v1/pc-a/metrics") == []
        # without a client certificate the TLS handshake itself is refused (the listener speaks TLS 1.2)
        ctx = ssl.create_default_context(cafile=str(ca.ca_file))
        with (socket.create_connection(("127.0.0.1", port), timeout=10) as raw, pytest.raises(ssl.SSLError),
              ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls):
            tls.recv(1)  # (TLS 1.3 would report the refusal on the first read)
    finally:
        for c in made:
            c.stop()
        svc.stop()
