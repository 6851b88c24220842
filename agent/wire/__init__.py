"""The wire contract between agent and collector (schema version 1).

This is the only module of ``agent`` the collector imports. Everything that crosses MQTT is
defined here: topics, the metrics batch, the ack, the status message, and strict decoders with
size limits. Encoding is JSON (msgspec), so ``mosquitto_sub`` shows readable payloads.

Topics (``<agent>`` is the MQTT username, which the broker authenticates)::

    cm/v1/<agent>/metrics   agent -> collector   Batch, QoS 1
    cm/v1/<agent>/status    agent -> everyone    Status, retained; the last will says offline
    cm/v1/<agent>/ack       collector -> agent   Ack, published at QoS 0 (subscribed at 1; docs/architecture.md)

Schema versions. ``v`` in every message is ``SCHEMA_VERSION``; the topic root carries it too (``cm/v1``).
- Compatible within v1: adding an *optional* field with a default (e.g. ``Batch.clock_offset_ms``). Messages
  are encoded without default-valued fields (``omit_defaults``), so a sender that has nothing to say for the
  new field produces exactly the old bytes. Decoders forbid unknown fields, so a sender that does set the new
  field needs a receiver that knows it: upgrade the collector before the agents (and the agents before
  the collector for fields of ``Ack``).
- Needs v2 (new topic root ``cm/v2``, both versions served side by side during the rollout): removing,
  renaming or retyping a field, making an optional field required, or changing what a field means.

The measurement schema (``spec`` for its types, ``measurements.json`` for its content, loaded by
``measurement_schema()``) is part of the contract: every measurement an agent may send, its tag keys and typed
fields. Regenerate the file with ``python -m agent.schema_export`` after changing a probe's declarations.

This package holds only the contract: no runtime helpers (those live in ``common``).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Annotated, Final, Literal, TypeVar

import msgspec

from agent.wire import spec
from agent.wire.spec import RESERVED_MEASUREMENTS, FieldSpec, FieldType, MeasurementSpec, Schema

SCHEMA_VERSION: Final = 1
TOPIC_ROOT: Final = "cm/v1"
MAX_BATCH_BYTES: Final = 512 * 1024
MAX_POINTS_PER_BATCH: Final = 5000
MAX_ACK_BYTES: Final = 64 * 1024

AGENT_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{0,62}\Z"
r"""Anchored with ``\Z``: ``$`` would also match before a trailing newline."""
_AGENT_ID_RE: Final = re.compile(AGENT_ID_PATTERN)

# Tags the collector adds from the fleet inventory; a point may never carry them itself.
RESERVED_TAGS: Final = frozenset({"province", "commune", "commune_name", "site", "agent"})

AgentId = Annotated[str, msgspec.Meta(pattern=AGENT_ID_PATTERN)]
Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}\Z")]
# Tag values: printable, no control characters (line protocol cannot carry newlines in tags).
TagValue = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+\Z")]
FieldValue = bool | int | float | Annotated[str, msgspec.Meta(max_length=1024)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
TimestampNs = Annotated[int, msgspec.Meta(ge=0, le=2**62)]


class WireError(ValueError):
    """A payload that does not satisfy the contract; ``reason`` is short and stable (a metric label)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Point(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """One measurement: measurement name, agent-side timestamp (ns since epoch), tags, fields."""

    m: Name
    t: TimestampNs
    f: Annotated[dict[Name, FieldValue], msgspec.Meta(min_length=1, max_length=64)]
    tg: Annotated[dict[Name, TagValue], msgspec.Meta(max_length=16)] = msgspec.field(default_factory=dict)


ClockOffsetMs = Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)]


class Batch(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A batch of points with the agent's per-agent sequence number.

    ``clock_offset_ms`` (optional, added within v1): the agent's latest estimate of (collector clock - agent
    clock) in ms, from the ``time`` of the acks it received; None (left out) before its first ack.
    """

    v: int
    agent: AgentId
    seq: Seq
    sent: TimestampNs
    points: Annotated[list[Point], msgspec.Meta(max_length=MAX_POINTS_PER_BATCH)]
    clock_offset_ms: ClockOffsetMs | None = None


class Ack(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Sequence numbers the collector has durably written (InfluxDB answered 2xx), as inclusive ranges.

    ``time`` is the collector's clock when it sent the ack (ns), used by the agent for its clock offset.
    Ranges rather than a single watermark: a batch lost in between must not be acked by a later one.
    """

    v: int
    ranges: list[tuple[Seq, Seq]]
    time: TimestampNs


class Status(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    v: int
    state: Literal["online", "offline"]
    time: TimestampNs = 0
    version: str = ""


class _Version(msgspec.Struct):
    v: int


T = TypeVar("T")

_version_decoder = msgspec.json.Decoder(_Version)
_batch_decoder = msgspec.json.Decoder(Batch)
_ack_decoder = msgspec.json.Decoder(Ack)
_status_decoder = msgspec.json.Decoder(Status)
_encoder = msgspec.json.Encoder()


def topic(agent_id: str, kind: Literal["metrics", "status", "ack"]) -> str:
    return f"{TOPIC_ROOT}/{agent_id}/{kind}"


def parse_topic(topic_name: str) -> tuple[str, str]:
    """``cm/v1/<agent>/<kind>`` -> (agent, kind); raises WireError for anything else."""
    parts = topic_name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise WireError("bad_topic", f"topic {topic_name!r} is not {TOPIC_ROOT}/<agent>/<kind>")
    if not _AGENT_ID_RE.match(parts[2]):
        raise WireError("bad_topic", f"agent id {parts[2]!r} in topic is not valid")
    return parts[2], parts[3]


def is_valid_agent_id(agent_id: str) -> bool:
    return bool(_AGENT_ID_RE.match(agent_id))


def _check_version(payload: bytes, what: str) -> None:
    try:
        version = _version_decoder.decode(payload).v
    except msgspec.DecodeError as exc:
        raise WireError("malformed", f"{what} is not valid JSON with a version: {exc}") from None
    if version != SCHEMA_VERSION:
        raise WireError("bad_version", f"{what} schema version {version} is not supported (want {SCHEMA_VERSION})")


def decode_batch(payload: bytes) -> Batch:
    """Strictly decode a metrics batch. Raises WireError with a stable reason."""
    if len(payload) > MAX_BATCH_BYTES:
        raise WireError("oversize", f"batch is {len(payload)} bytes, limit {MAX_BATCH_BYTES}")
    try:
        batch = _batch_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        _check_version(payload, "batch")  # a clearer reason when the version is the problem
        raise WireError("schema", str(exc)) from None
    if batch.v != SCHEMA_VERSION:
        raise WireError("bad_version", f"batch schema version {batch.v} is not supported (want {SCHEMA_VERSION})")
    for i, point in enumerate(batch.points):
        reserved = RESERVED_TAGS.intersection(point.tg)
        if reserved:
            raise WireError("reserved_tag", f"points[{i}] sets reserved tag(s) {sorted(reserved)}")
        for key, value in point.f.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise WireError("schema", f"points[{i}].f.{key} is not finite")
    return batch


def _decode_small(payload: bytes, decoder: msgspec.json.Decoder[T], what: str) -> T:
    if len(payload) > MAX_ACK_BYTES:
        raise WireError("oversize", f"{what} is {len(payload)} bytes, limit {MAX_ACK_BYTES}")
    _check_version(payload, what)
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise WireError("schema", str(exc)) from None


def decode_ack(payload: bytes) -> Ack:
    return _decode_small(payload, _ack_decoder, "ack")


def decode_status(payload: bytes) -> Status:
    return _decode_small(payload, _status_decoder, "status")


def encode(message: Batch | Ack | Status) -> bytes:
    return _encoder.encode(message)


MEASUREMENTS_FILE: Final = "measurements.json"


@functools.cache
def measurement_schema() -> Schema:
    """The measurement schema shipped with this contract (``agent/wire/measurements.json``)."""
    from importlib import resources  # the collector's need, not the agent's (agent.memory)

    data = resources.files(__name__).joinpath(MEASUREMENTS_FILE).read_bytes()
    return msgspec.json.decode(data, type=Schema)


__all__ = [
    "RESERVED_MEASUREMENTS",
    "RESERVED_TAGS",
    "SCHEMA_VERSION",
    "TOPIC_ROOT",
    "Ack",
    "AgentId",
    "Batch",
    "FieldSpec",
    "FieldType",
    "FieldValue",
    "MeasurementSpec",
    "Name",
    "Point",
    "Schema",
    "Status",
    "WireError",
    "decode_ack",
    "decode_batch",
    "decode_status",
    "encode",
    "measurement_schema",
    "parse_topic",
    "renames",
    "spec",
    "topic",
]

from agent.wire import renames  # noqa: E402  (it needs Point, defined above)
