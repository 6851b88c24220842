"""Turn one MQTT message into accepted line protocol, or a counted rejection with a reason.

Identity comes only from the topic (the broker authenticated the publisher as that username, and the
ACL lets it write only its own topic); the payload's ``agent`` must agree, and the inventory supplies
commune and site. A point can never set province/commune/commune_name/site/agent itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent import wire
from collector.config import AgentIdentity, Inventory
from collector.lineproto import LineEncoder


@dataclass(frozen=True)
class Accepted:
    identity: AgentIdentity
    seq: int
    lines: list[bytes]
    clock_offset_ms: float | None = None
    """The agent's own estimate of (collector clock - agent clock), ``wire.Batch.clock_offset_ms``."""
    points: tuple[wire.Point, ...] = ()
    """The decoded points (the alert rules read them)."""


class Validator:
    def __init__(self, inventory: Inventory, encoder: LineEncoder | None = None) -> None:
        self.inventory = inventory
        self.encoder = encoder or LineEncoder()

    def identify(self, topic: str) -> tuple[AgentIdentity, str]:
        agent_id, kind = wire.parse_topic(topic)
        identity = self.inventory.get(agent_id)
        if identity is None:
            raise wire.WireError("unknown_agent", f"agent {agent_id!r} is not in the fleet inventory")
        return identity, kind

    def metrics(self, identity: AgentIdentity, payload: bytes) -> Accepted:
        batch = wire.decode_batch(payload)
        if batch.agent != identity.agent:
            raise wire.WireError(
                "identity_mismatch", f"payload claims agent {batch.agent!r} but was published by {identity.agent!r}"
            )
        tags = identity.tags()
        line = self.encoder.point_line
        agent = identity.agent
        lines = [line(agent, tags, p.m, p.tg, p.f, p.t).encode() for p in batch.points]
        return Accepted(identity, batch.seq, lines, batch.clock_offset_ms, tuple(batch.points))
