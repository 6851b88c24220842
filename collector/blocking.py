"""Broker-side containment of an abusive agent: once it stays over its limits, the broker stops taking its publishes.

The collector refuses an over-limit agent's batches cheaply, but it still has to read them: the broker delivers
every agent's messages to the collector in one FIFO queue, so an agent publishing faster than the collector can
read and refuse delays the other agents' batches queued behind its backlog. Blocking moves the refusal upstream:

- Policy: each message refused for one of ``block.reasons`` (default: the per-agent limits, ``rate_limited`` and
  ``series_limit``) extends the agent's *refusal streak*; a streak ends after ``block.after_seconds`` without a
  refusal. When a streak reaches ``block.after_messages`` refused messages, or has lasted ``block.after_seconds``,
  the agent is blocked for ``block.duration`` seconds.
- Enforcement: the Mosquitto ACL file (``block.acl_file``) is regenerated (collector/broker.py) with the blocked
  agents keeping only the right to read their ack topic, and Mosquitto reloads it (SIGHUP to the pid in
  ``block.pid_file``, or ``block.reload_command``). Mosquitto 2.0.11 applies a reloaded ACL to the *next*
  publishes of an already-connected client (checked: v3.1.1 publishes are dropped silently, v5 ones are
  PUBACKed with reason 135 "not authorised"), so no disconnect is needed. The blocked agent's messages never
  reach the collector's queue; those already queued are refused at the topic, before any payload work
  (``rejected_total{reason="blocked"}``), and not acked to the agent: it keeps them and sends them again after
  the block (nothing an honest-but-broken agent sent is lost while its disk queue holds it).
- State: ``blocked.json`` in the collector's state dir (agent -> since, until, reason, refused), so a restart
  keeps the blocks. ``commune-collector unblock AGENT`` removes an entry, regenerates the ACL and reloads the
  broker; the running collector re-reads the file when it changes. Without ``acl_file`` the policy still counts
  and logs the blocks (``agents_blocked_total``) but the broker is not told.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as _PromCollector

from collector.errors import CollectorError
from collector.limits import RATE_LIMITED, SERIES_LIMIT

if TYPE_CHECKING:
    from collector.config import Inventory

log = logging.getLogger("collector.blocking")
BLOCKED = "blocked"
STATE_FILE = "blocked.json"


class BlockSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    """Apply the policy (count, log and, with ``acl_file``, enforce at the broker)."""
    reasons: list[str] = msgspec.field(default_factory=lambda: [RATE_LIMITED, SERIES_LIMIT])
    """Refusal reasons that count towards a block (add e.g. ``wrong_type`` to block type poisoning)."""
    after_messages: Annotated[int, msgspec.Meta(ge=1)] = 1000
    after_seconds: Annotated[float, msgspec.Meta(gt=0)] = 300.0
    duration: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    """How long a block lasts (``commune-collector unblock AGENT`` ends it earlier)."""
    acl_file: str = ""
    """The Mosquitto ACL file the collector regenerates (the same file ``broker-files --acl`` writes). Empty: blocks
    are counted and logged only."""
    pid_file: str = ""
    """Mosquitto's pid file: the collector sends SIGHUP to reload the ACL (needs the right to signal it)."""
    reload_command: list[str] = msgspec.field(default_factory=list)
    """Instead of ``pid_file``: a command that reloads Mosquitto, e.g. ``[sudo, -n, systemctl, reload, mosquitto]``."""


@dataclass
class Block:
    since: float
    until: float
    reason: str
    refused: int


@dataclass
class _Streak:
    first: float
    last: float
    count: int


def load_state(path: Path) -> dict[str, Block]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CollectorError(f"{path}: cannot read blocked agents: {exc}") from None
    return {a: Block(float(b["since"]), float(b["until"]), str(b["reason"]), int(b["refused"])) for a, b in raw.items()}


def save_state(path: Path, blocks: dict[str, Block]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({a: vars(b) for a, b in sorted(blocks.items())}, indent=1), encoding="utf-8")
    tmp.replace(path)


def apply_to_broker(cfg: BlockSection, inventory: Inventory, blocked: set[str]) -> bool:
    """Regenerate the ACL with ``blocked`` agents read-only and have Mosquitto reload it. False when no ACL is
    configured. Raises CollectorError when the broker cannot be told."""
    from collector import broker

    if not cfg.acl_file:
        return False
    acl = Path(cfg.acl_file)
    tmp = acl.with_suffix(".tmp")
    tmp.write_text(broker.acl_text(inventory, blocked=blocked), encoding="utf-8")
    if acl.exists():
        tmp.chmod(acl.stat().st_mode & 0o777)
    tmp.replace(acl)
    if cfg.pid_file:
        try:
            os.kill(int(Path(cfg.pid_file).read_text().split()[0]), signal.SIGHUP)
        except (OSError, ValueError, IndexError) as exc:
            raise CollectorError(f"cannot signal the broker ({cfg.pid_file}): {exc}") from None
    elif cfg.reload_command:
        r = subprocess.run(cfg.reload_command, capture_output=True, text=True, timeout=30, check=False)
        if r.returncode != 0:
            raise CollectorError(f"{shlex.join(cfg.reload_command)} failed ({r.returncode}): {r.stderr.strip()[:300]}")
    return True


class Blocker:
    def __init__(self, cfg: BlockSection, inventory: Inventory, state_path: Path,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self.state_path = state_path
        self.clock = clock
        self.reasons = frozenset(cfg.reasons)
        self.blocks: dict[str, Block] = {}
        self.streaks: dict[str, _Streak] = {}
        self.blocks_total = 0
        self.unblocks_total = 0
        self.apply_errors = 0
        self.received: Counter[str] = Counter()  # messages the collector received per agent (before any check)
        self._mtime: float | None = None

    def load(self) -> None:
        self.blocks = load_state(self.state_path)
        self._mtime = self._stat()
        if self.blocks:
            self._apply()  # the broker's ACL may have been regenerated without them meanwhile

    def _stat(self) -> float | None:
        try:
            return self.state_path.stat().st_mtime
        except FileNotFoundError:
            return None

    def is_blocked(self, agent: str) -> bool:
        return agent in self.blocks

    def refused(self, agent: str, reason: str) -> None:
        """One message of ``agent`` refused for ``reason``: may start a block."""
        if not self.cfg.enabled or reason not in self.reasons or agent in self.blocks or \
                self.inventory.get(agent) is None:
            return
        now = self.clock()
        s = self.streaks.get(agent)
        if s is None or now - s.last > self.cfg.after_seconds:
            s = self.streaks[agent] = _Streak(now, now, 0)
        s.last, s.count = now, s.count + 1
        if s.count >= self.cfg.after_messages or now - s.first >= self.cfg.after_seconds:
            del self.streaks[agent]
            self.block(agent, f"{s.count} messages refused ({reason}) in {now - s.first:.0f}s", s.count)

    def block(self, agent: str, why: str, refused: int = 0) -> None:
        now = self.clock()
        self.blocks[agent] = Block(now, now + self.cfg.duration, why, refused)
        self.blocks_total += 1
        log.warning("agent %s blocked at the broker for %.0fs: %s", agent, self.cfg.duration, why)
        self._save_and_apply()

    def _save_and_apply(self) -> None:
        save_state(self.state_path, self.blocks)
        self._mtime = self._stat()
        self._apply()

    def _apply(self) -> None:
        try:
            if not apply_to_broker(self.cfg, self.inventory, set(self.blocks)):
                log.warning("no block.acl_file: blocked agents %s are refused by the collector only",
                            ",".join(sorted(self.blocks)) or "(none)")
        except (OSError, CollectorError) as exc:
            self.apply_errors += 1
            log.error("cannot apply blocks at the broker: %s", exc)

    def tick(self) -> None:
        """Expire blocks; pick up changes of the state file (``commune-collector unblock``)."""
        mtime = self._stat()
        if mtime != self._mtime:
            before = set(self.blocks)
            try:
                self.blocks = load_state(self.state_path)
            except CollectorError as exc:
                log.error("%s", exc)
            self._mtime = mtime
            for agent in before - set(self.blocks):
                self.unblocks_total += 1
                log.warning("agent %s unblocked (state file changed)", agent)
        now = self.clock()
        expired = [a for a, b in self.blocks.items() if b.until <= now]
        for agent in expired:
            del self.blocks[agent]
            self.unblocks_total += 1
            log.warning("agent %s unblocked (block expired)", agent)
        if expired:
            self._save_and_apply()

    async def run(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            self.tick()


def unblock(cfg: BlockSection, inventory: Inventory, state_dir: Path, agent: str) -> bool:
    """``commune-collector unblock AGENT``: False when the agent was not blocked."""
    path = state_dir / STATE_FILE
    blocks = load_state(path)
    if blocks.pop(agent, None) is None:
        return False
    save_state(path, blocks)
    apply_to_broker(cfg, inventory, set(blocks))
    return True


class BlockMetrics(_PromCollector):
    def __init__(self, blocker: Blocker) -> None:
        self.blocker = blocker

    def collect(self) -> Iterator[Metric]:
        b = self.blocker
        yield CounterMetricFamily("commune_collector_agents_blocked", "Agents blocked at the broker for staying over "
                                  "their limits (alert on any increase).", value=b.blocks_total)
        yield CounterMetricFamily("commune_collector_agents_unblocked", "Blocks ended (expired or unblocked).",
                                  value=b.unblocks_total)
        yield CounterMetricFamily("commune_collector_block_apply_errors", "Failures to regenerate the ACL or reload "
                                  "the broker.", value=b.apply_errors)
        r = CounterMetricFamily("commune_collector_agent_messages", "MQTT messages received from the agent, before "
                                "any check (stops growing once the broker blocks it).", labels=["agent"])
        for agent, n in sorted(b.received.items()):
            r.add_metric([agent], float(n))
        yield r
        g = GaugeMetricFamily("commune_collector_agent_blocked", "1 while the agent is blocked at the broker.",
                              labels=["agent"])
        for agent in sorted(b.blocks):
            g.add_metric([agent], 1.0)
        yield g
