"""Turn one MQTT message into accepted line protocol, or a counted rejection with a reason.

Identity comes only from the topic (the broker authenticated the publisher as that username, and the
ACL lets it write only its own topic); the payload's ``agent`` must agree, and the inventory supplies
commune and site. A point can never set province/commune/commune_name/site/agent itself.

Each point is then checked against the measurement schema and the time window (``collector.schema_check``):
a bad point is left out with its reason (``Accepted.rejected``), the batch's good points go on, and the batch
is acked once they are written.

A batch whose every point is plainly valid takes ``collector.plain_batch`` (cached point shapes); any other
batch takes the general path here, which names every rejection.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from agent import wire
from collector.config import AgentIdentity, Inventory
from collector.lineproto import LineEncoder
from collector.plain_batch import PlainBatches
from collector.schema_check import FieldEncoder, PointRejected, RateLimitedLog, SchemaChecker, TimeWindow

log = logging.getLogger("collector.validate")


@dataclass(frozen=True)
class Accepted:
    identity: AgentIdentity
    seq: int
    lines: list[bytes]
    clock_offset_ms: float | None = None
    """The agent's own estimate of (collector clock - agent clock), ``wire.Batch.clock_offset_ms``."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Points of the batch left out, by reason (``schema_check.POINT_REASONS``)."""
    points: tuple[wire.Point, ...] = ()
    """The decoded points (the alert rules read them)."""
    series: list[int] | None = None
    """Each line's ``limits.series_key``, when the validator already knows them (``collector.plain_batch``)."""


class Validator:
    def __init__(self, inventory: Inventory, encoder: LineEncoder | None = None, *, window: TimeWindow | None = None,
                 schema: wire.Schema | None = None, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.inventory = inventory
        self.encoder = encoder or LineEncoder()
        self.window = window or TimeWindow()
        self.checker = SchemaChecker(schema or wire.measurement_schema())
        self.fast_fields = FieldEncoder(self.checker.schema)
        self.clock_ns = clock_ns
        self.point_log = RateLimitedLog(log)
        self.plain = PlainBatches(self.checker.schema, self.encoder)

    def _window(self, clock_offset_ms: float | None, now_ns: int) -> tuple[int, int, int]:
        return (self.window.shift_ns(clock_offset_ms), *self.window.bounds_ns(now_ns))

    def identify(self, topic: str) -> tuple[AgentIdentity, str]:
        agent_id, kind = wire.parse_topic(topic)
        identity = self.inventory.get(agent_id)
        if identity is None:
            raise wire.WireError("unknown_agent", f"agent {agent_id!r} is not in the fleet inventory")
        return identity, kind

    def metrics(self, identity: AgentIdentity, payload: bytes) -> Accepted:
        """The batch's accepted lines and its rejected points by reason; raises WireError for a bad batch."""
        plain = self.plain.accept(identity.agent, identity.tags(), payload, self.clock_ns(), self._window)
        if plain is not None:  # every point plainly valid: checked and encoded with the cached shapes
            return Accepted(identity, plain.seq, plain.lines, plain.clock_offset_ms, Counter(), tuple(plain.points),
                            plain.series)
        return self._general(identity, payload)

    def _general(self, identity: AgentIdentity, payload: bytes) -> Accepted:
        """Every batch the plain path leaves: the strict decoder, and each point's reason when it is rejected."""
        batch = wire.decode_batch(payload)
        if batch.agent != identity.agent:
            raise wire.WireError(
                "identity_mismatch", f"payload claims agent {batch.agent!r} but was published by {identity.agent!r}"
            )
        tags = identity.tags()
        line, prefix, fast = self.encoder.point_line, self.encoder.point_prefix, self.fast_fields.encode
        agent = identity.agent
        check, place = self.checker.fields, self.window.place
        now = self.clock_ns()
        shift = self.window.shift_ns(batch.clock_offset_ms)
        lo, hi = self.window.bounds_ns(now)
        lines: list[bytes] = []
        kept: list[wire.Point] = []
        rejected: Counter[str] = Counter()
        upgrade = wire.renames.upgrade
        for p in batch.points:
            p = upgrade(p)  # an agent older than a rename: its old names mapped to the current ones
            t = p.t + shift
            fields = fast(p) if lo <= t <= hi else None
            if fields is not None:  # plainly valid: checked and encoded in one pass
                lines.append(f"{prefix(agent, tags, p.m, p.tg)} {fields} {t}".encode())
                kept.append(p)
                continue
            try:  # the general path: the reason of a rejection, or a value that needs converting
                lines.append(line(agent, tags, p.m, p.tg, check(p), place(p.t, shift, now)).encode())
                kept.append(p)
            except PointRejected as exc:
                rejected[exc.reason] += 1
                self.point_log.warning((agent, exc.reason), "rejected a point from agent %s (batch %d): %s",
                                       agent, batch.seq, exc)
        return Accepted(identity, batch.seq, lines, batch.clock_offset_ms, rejected, tuple(kept))
