from __future__ import annotations

import msgspec
import pytest

from agent import wire


def _batch(**over: object) -> dict[str, object]:
    doc: dict[str, object] = {"v": 1, "agent": "pc-01", "seq": 7, "sent": 1_700_000_000_000_000_000,
                              "points": [{"m": "host", "t": 1_700_000_000_000_000_000, "f": {"cpu_percent": 3.5},
                                          "tg": {"interface": "eth0"}}]}
    doc.update(over)
    return doc


def test_roundtrip() -> None:
    payload = msgspec.json.encode(_batch())
    batch = wire.decode_batch(payload)
    assert batch.agent == "pc-01" and batch.seq == 7
    assert batch.points[0].f == {"cpu_percent": 3.5}
    assert wire.decode_batch(wire.encode(batch)) == batch


@pytest.mark.parametrize(
    ("payload", "reason", "detail"),
    [
        (b"not json", "malformed", "not valid JSON"),
        (msgspec.json.encode(_batch(v=2)), "bad_version", "schema version 2"),
        (msgspec.json.encode(_batch(extra=1)), "schema", "unknown field `extra`"),
        (msgspec.json.encode(_batch(seq=-1)), "schema", "$.seq"),
        (msgspec.json.encode(_batch(agent="Bad Agent")), "schema", "$.agent"),
        (msgspec.json.encode(_batch(points=[{"m": "host", "t": 1, "f": {}}])), "schema", "$.points[0].f"),
        (msgspec.json.encode(_batch(points=[{"m": "host", "t": 1, "f": {"x": 1}, "tg": {"commune": "07900"}}])),
         "reserved_tag", "commune"),
        (msgspec.json.encode(_batch(points=[{"m": "host", "t": 1, "f": {"x": 1}, "tg": {"a": "line\nbreak"}}])),
         "schema", "$.points[0].tg"),
        (b"{" + b" " * wire.MAX_BATCH_BYTES + b"}", "oversize", "limit"),
    ],
)
def test_rejections_name_the_reason(payload: bytes, reason: str, detail: str) -> None:
    with pytest.raises(wire.WireError) as err:
        wire.decode_batch(payload)
    assert err.value.reason == reason
    assert detail in str(err.value)


def test_too_many_points() -> None:
    pts = [{"m": "x", "t": 1, "f": {"a": 1}}] * (wire.MAX_POINTS_PER_BATCH + 1)
    with pytest.raises(wire.WireError) as err:
        wire.decode_batch(msgspec.json.encode(_batch(points=pts)))
    assert err.value.reason in ("schema", "oversize")


def test_topics() -> None:
    assert wire.topic("pc-01", "ack") == "cm/v1/pc-01/ack"
    assert wire.parse_topic("cm/v1/pc-01/metrics") == ("pc-01", "metrics")
    for bad in ("cm/v2/pc-01/metrics", "cm/v1/pc-01", "cm/v1/PC 01/metrics"):
        with pytest.raises(wire.WireError):
            wire.parse_topic(bad)


def test_clock_offset_is_optional_and_left_out_when_unknown() -> None:
    without = wire.Batch(v=1, agent="pc-01", seq=1, sent=1, points=[])
    assert b"clock_offset_ms" not in wire.encode(without)  # old collectors (v1 without the field) accept it
    assert wire.decode_batch(wire.encode(without)).clock_offset_ms is None
    with_offset = wire.Batch(v=1, agent="pc-01", seq=1, sent=1, points=[], clock_offset_ms=-1234.5)
    assert wire.decode_batch(wire.encode(with_offset)).clock_offset_ms == -1234.5
    with pytest.raises(wire.WireError) as err:
        wire.decode_batch(msgspec.json.encode(_batch(clock_offset_ms="soon")))
    assert err.value.reason == "schema"


def test_ack_and_status_decoding() -> None:
    ack = wire.Ack(v=1, ranges=[(1, 3)], time=5)
    assert wire.decode_ack(wire.encode(ack)) == ack
    assert wire.decode_status(b'{"v":1,"state":"offline"}').state == "offline"
    for payload, reason in ((b'{"v":2,"ranges":[],"time":1}', "bad_version"), (b'{"v":1,"ranges":"x","time":1}', "schema"),
                            (b" " * (wire.MAX_ACK_BYTES + 1), "oversize"), (b"{", "malformed")):
        with pytest.raises(wire.WireError) as err:
            wire.decode_ack(payload)
        assert err.value.reason == reason
    with pytest.raises(wire.WireError, match="status schema version 3"):
        wire.decode_status(b'{"v":3,"state":"online"}')
