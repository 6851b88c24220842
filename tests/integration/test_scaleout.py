"""Two collector PROCESSES in one MQTT shared-subscription group, with real agents, Mosquitto, InfluxDB,
Alertmanager and an SMTP server: the load is split, nothing is lost or written twice, a killed collector's
load moves to the survivor, and alerts evaluated on split streams stay correct (one notification)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.alert_stack import (
    OFFLINE_TEXT,
    alertmanager_for,
    alerts_section,
    am_alerts,
    mails,
    rules_file,
)
from tests.support.alerts_env import commune_mail
from tests.support.collectors import Member, Witness, start_members
from tests.support.fleet import Fleet, assert_complete_and_ordered
from tests.support.services import Influx, wait_for
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.integration

COMMUNES = ["07900", "05089", "07900", "05089"]
QUEUE = {"ack_timeout": "8s"}  # long enough that a slow write here is not resent (which would ack it twice)


@pytest.fixture
def fleet(tmp_path: Path, mosquitto: int, influx: tuple[Influx, str]) -> Iterator[Fleet]:
    f = Fleet(tmp_path / "fleet", mosquitto, influx[0], influx[1])
    yield f
    f.stop()


@pytest.fixture
def witness(mosquitto: int) -> Iterator[Witness]:
    w = Witness(mosquitto)
    yield w
    w.close()


@pytest.fixture
def members() -> Iterator[list[Member]]:
    started: list[Member] = []
    yield started
    for m in started:
        m.service.stop()


def _add_agents(fleet: Fleet, rounds: int, points_per_round: int = 20, interval: str = "100ms") -> int:
    for i, commune in enumerate(COMMUNES):
        fleet.add_agent(f"pc-share-{i}", commune, rounds=rounds, points_per_round=points_per_round,
                        interval=interval, queue=QUEUE)
    return len(COMMUNES) * rounds * points_per_round


def _start(fleet: Fleet, members: list[Member], count: int = 2, **extra: object) -> None:
    members.extend(start_members(fleet, count, extra=dict(extra)))
    for m in members:
        wait_for(lambda m=m: m.value("mqtt_connected") == 1, 30, what=f"{m.name} connected")


def _settle(fleet: Fleet, witness: Witness, members: list[Member]) -> None:
    """Stop the agents (they keep sending their own batches) and wait until every batch is written and acked."""
    for svc in fleet.agents.values():
        svc.stop()
    wait_for(lambda: not witness.unacked() and all(m.value("pending_batches") == 0 for m in members
                                                   if m.service.pid()), 60, what="the last batches acked")


def test_two_collectors_split_the_load_without_loss_or_double_writes(
        fleet: Fleet, witness: Witness, members: list[Member]) -> None:
    expected = _add_agents(fleet, rounds=50)
    _start(fleet, members)
    for svc in fleet.agents.values():
        svc.start()
    # the agents keep sending their own points, so one batch per agent is usually in flight: wait for the
    # synthetic points, then stop the agents and wait until every batch is acked (_settle)
    wait_for(lambda: fleet.stored_count() == expected, 120, what=f"{expected} points stored")
    _settle(fleet, witness, members)

    assert assert_complete_and_ordered(fleet.stored()) == expected  # no gap, no duplicate (agent, run, n)
    written = [m.value("batches_written_total") for m in members]
    assert all(w > 0 for w in written), f"both collectors must write a share: {written}"
    diag = [{k: v for k, v in m.metrics().items() if "dup" in k or "batches" in k or "messages" in k or "ack" in k}
            for m in members]
    assert sum(written) == witness.batches(), f"a batch written by both collectors or not counted: {diag}"
    assert witness.acked_more_than_once() == {}
    for m in members:
        assert m.value("duplicates_dropped_total") == 0 and m.value("duplicates_reacked_total") == 0


def test_killing_a_collector_moves_its_load_to_the_survivor(
        fleet: Fleet, witness: Witness, members: list[Member]) -> None:
    expected = _add_agents(fleet, rounds=150)
    _start(fleet, members)
    for svc in fleet.agents.values():
        svc.start()
    victim, survivor = members
    wait_for(lambda: victim.value("batches_written_total") > 5 and survivor.value("batches_written_total") > 5,
             60, what="both collectors writing")
    victim.service.kill()  # SIGKILL: whatever it had not yet written or acked is in flight
    at_kill = survivor.value("batches_written_total")
    wait_for(lambda: fleet.stored_count() == expected, 180, what=f"{expected} points stored")
    _settle(fleet, witness, [survivor])  # agents stopped: every batch acked

    assert assert_complete_and_ordered(fleet.stored()) == expected
    assert survivor.value("batches_written_total") > at_kill
    assert witness.unacked() == {}
    # a batch the victim wrote and acked just before the kill may be resent (ack_timeout) and acked again by the
    # survivor; InfluxDB holds it once (checked above). Every batch is acked at least once.


def test_split_streams_raise_one_agent_offline_notification(
        tmp_path: Path, fleet: Fleet, members: list[Member], sink: SmtpSink) -> None:
    quiet, talking = "pc-share-0", "pc-share-1"
    fleet.add_agent(quiet, "07900", rounds=0, points_per_round=2, interval="300ms", queue=QUEUE)
    fleet.add_agent(talking, "05089", rounds=0, points_per_round=2, interval="300ms", queue=QUEUE)
    am = alertmanager_for(tmp_path / "am", fleet.inventory, sink.port)
    am.service.start()
    try:
        rules = rules_file(tmp_path / "rules.yaml", absent="4s")
        _start(fleet, members, alerts=alerts_section(rules, am.url))
        for svc in fleet.agents.values():
            svc.start()
        for m in members:  # every evaluator reads the whole stream, not its share
            wait_for(lambda m=m: m.value("alerts_feed_points_total") >= 20, 60, what=f"{m.name} evaluation feed")
        for m in members:  # absences from a slow start (agents began after the rules) have resolved
            wait_for(lambda m=m: m.value("alerts_firing") == 0, 60, what=f"{m.name} with nothing firing")
        before = {c: len(mails(sink, commune_mail(c), OFFLINE_TEXT, resolved=False)) for c in ("07900", "05089")}
        fleet.agents[quiet].stop()

        wait_for(lambda: len(mails(sink, commune_mail("07900"), OFFLINE_TEXT, resolved=False)) > before["07900"], 60,
                 what="the AgentOffline mail")
        for m in members:
            wait_for(lambda m=m: m.value("alerts_firing") >= 1, 30, what=f"{m.name} firing AgentOffline")
        posts = {m.name: m.value("alerts_posts_total") for m in members}
        # both evaluators go on posting the same alert (repost every 2 s, Alertmanager group_interval 2 s)
        for m in members:
            wait_for(lambda m=m: m.value("alerts_posts_total") >= posts[m.name] + 3, 30, what=f"{m.name} reposts")

        assert len(mails(sink, commune_mail("07900"), OFFLINE_TEXT, resolved=False)) == before["07900"] + 1
        # the agent still sending (its messages split over both writers) is not offline
        assert len(mails(sink, commune_mail("05089"), OFFLINE_TEXT, resolved=False)) == before["05089"]
        offline = am_alerts(am, 'alertname="AgentOffline"')
        assert [a["labels"]["agent"] for a in offline] == [quiet]
        for m in members:
            assert m.value("alerts_firing") == 1
    finally:
        am.service.stop()
