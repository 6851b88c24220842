"""The blocking policy (refusal streaks -> a block with an expiry), its state file, and the ACL it writes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from collector import broker
from collector.blocking import STATE_FILE, Blocker, BlockSection, load_state, unblock
from collector.config import Inventory, load_inventory


def _inventory(tmp: Path) -> Inventory:
    (tmp / "fleet.yaml").write_text(yaml.safe_dump({"agents": {"pc-a": {"commune": "07900"},
                                                               "pc-b": {"commune": "07900"}}}))
    return load_inventory(tmp / "fleet.yaml")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_streak_of_refusals_blocks_the_agent_in_the_acl_until_it_expires(tmp_path: Path) -> None:
    inv, clock = _inventory(tmp_path), Clock()
    acl = tmp_path / "cm.acl"
    cfg = BlockSection(after_messages=3, after_seconds=60.0, duration=100.0, acl_file=str(acl))
    b = Blocker(cfg, inv, tmp_path / STATE_FILE, clock)
    b.refused("pc-a", "wrong_type")  # not a counted reason
    b.refused("pc-a", "rate_limited")
    b.refused("pc-a", "rate_limited")
    clock.now += 61  # the streak ended: counting starts again
    b.refused("pc-a", "series_limit")
    b.refused("pc-a", "rate_limited")
    assert not b.is_blocked("pc-a")
    b.refused("pc-a", "rate_limited")
    assert b.is_blocked("pc-a") and not b.is_blocked("pc-b") and b.blocks_total == 1
    text = acl.read_text()
    assert "topic write cm/v1/pc-b/metrics" in text and "cm/v1/pc-a/metrics" not in text
    assert "user pc-a\ntopic read cm/v1/pc-a/ack\n" in text
    assert set(json.loads((tmp_path / STATE_FILE).read_text())) == {"pc-a"}
    clock.now += 100
    b.tick()
    assert not b.is_blocked("pc-a") and b.unblocks_total == 1
    assert "topic write cm/v1/pc-a/metrics" in acl.read_text()


def test_unblock_rewrites_the_state_and_the_running_blocker_follows(tmp_path: Path) -> None:
    inv = _inventory(tmp_path)
    acl = tmp_path / "cm.acl"
    cfg = BlockSection(acl_file=str(acl))
    b = Blocker(cfg, inv, tmp_path / STATE_FILE)
    b.block("pc-b", "test")
    restarted = Blocker(cfg, inv, tmp_path / STATE_FILE)
    restarted.load()
    assert restarted.is_blocked("pc-b")
    assert unblock(cfg, inv, tmp_path, "pc-b") and not unblock(cfg, inv, tmp_path, "pc-b")
    assert load_state(tmp_path / STATE_FILE) == {}
    assert "topic write cm/v1/pc-b/metrics" in acl.read_text()
    restarted._mtime = -1.0  # as if the file changed after the blocker last read it (mtime granularity)
    restarted.tick()
    assert not restarted.is_blocked("pc-b")


def test_broker_files_keep_blocked_agents_read_only(tmp_path: Path) -> None:
    inv = _inventory(tmp_path)
    broker.broker_files(inv, tmp_path / "p", tmp_path / "a", blocked={"pc-a"})
    text = (tmp_path / "a").read_text()
    assert "cm/v1/pc-a/metrics" not in text and "cm/v1/pc-a/status" not in text
    assert "topic write cm/v1/pc-b/metrics" in text
    assert "message_size_limit 524288\n" in broker.limits_conf()
