"""The collector's acks while it pauses reading its socket, with real Mosquitto, InfluxDB and collector processes.

Many agents and a tiny ``mqtt.receive_maximum``: once writes succeed and PUBACKs flow, Mosquitto 2.0.11 sends
beyond Receive Maximum and the collector stops reading its socket until enough messages are PUBACKed. If
InfluxDB goes down right then, the pause lasts as long as the outage. The acks of what was already written must
still reach their agents meanwhile (an ack that waited for a broker PUBACK on the paused socket timed out and
was lost), and after the outage every batch is stored and acked exactly once, without a reconnect. These agents
never resend, so a lost ack stays lost.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.acks import MqttAckPublisher
from devstack.services import free_port
from tests.support.fleet import Fleet, assert_complete_and_ordered
from tests.support.flood import HostileAgent, Metrics, rate_points
from tests.support.influx_proxy import influx_proxy
from tests.support.services import Influx, wait_for

pytestmark = pytest.mark.integration

AGENTS = 30
BATCHES = 4
POINTS = 10
RECEIVE_MAXIMUM = 4
PASSED = 12
"""Writes InfluxDB takes before it goes down again: the first let PUBACKs flow (the broker overshoots and the
collector pauses reading), the last land while the read is paused."""
WRITE_TIMEOUT = 2.0
KEEPALIVE = 5
HELD = 2 * (int(max(MqttAckPublisher().timeout, 2 * KEEPALIVE) / WRITE_TIMEOUT) + 2)
"""Writes held unanswered (each until the collector's timeout, at most two at once) after those: the outage
outlasts the ack publish timeout, so an ack that waits for anything read from the paused socket fails, and twice
the keepalive, so a session whose socket stays unread ends."""


def test_acks_reach_the_agents_while_the_collector_pauses_reading(tmp_path: Path, mosquitto: int,
                                                                  influx: tuple[Influx, str]) -> None:
    server, db = influx
    with influx_proxy(server.url) as proxy:
        proxy.mode = 503  # InfluxDB down: the backlog builds up in the broker
        port = free_port()
        fleet = Fleet(tmp_path, mosquitto, server, db)
        names = [f"pc-{i:02d}" for i in range(AGENTS)]
        for name in names:
            fleet.inventory[name] = {"commune": "07900", "site": "main"}
        # a short keepalive: the outage (over HELD writes) outlasts it twice; paho reads no PINGRESP while the read
        # is paused, so a pause that never ends would end the session (no reconnect is allowed below)
        fleet.mqtt_extra = {"receive_maximum": RECEIVE_MAXIMUM, "keepalive": KEEPALIVE}
        fleet.collector_extra = {"metrics_listen": f"127.0.0.1:{port}", "stats_interval": 3600,  # agents' lines only
                                 "influx": {"url": proxy.url, "database": db, "flush_interval": 0.05,
                                            "timeout": WRITE_TIMEOUT, "batch_points": POINTS}}  # one batch per write
        metrics = Metrics(port)
        agents: list[HostileAgent] = []

        def acked() -> int:
            return sum(len(a.acked_seqs()) for a in agents)

        def writes(status: int) -> int:
            return sum(1 for s, _ in list(proxy.writes) if s == status)

        try:
            fleet.start_collector()
            wait_for(lambda: metrics.value("mqtt_connected") == 1, 30, what="the collector connected")
            agents = [HostileAgent(mosquitto, name) for name in names]
            for seq in range(1, BATCHES + 1):
                for agent in agents:
                    agent.send(seq, rate_points(seq, POINTS))
            wait_for(lambda: metrics.value("messages_inflight") == RECEIVE_MAXIMUM, 30, what="Receive Maximum reached")
            wait_for(lambda: writes(503) >= 1, 30, what="a failed write")
            failed = writes(503)
            proxy.pass_then(PASSED, "timeout")  # a few writes succeed, then InfluxDB hangs
            wait_for(lambda: writes(204) == PASSED and writes(0) >= 1, 60, what="the writes, then a hung one")
            wait_for(lambda: metrics.value("batches_written_total") == PASSED, 30, what="the written batches")
            assert metrics.value("messages_inflight") > RECEIVE_MAXIMUM  # reading is paused (the broker overshot)
            assert writes(503) == failed
            wait_for(lambda: writes(0) >= HELD, 120, what="an outage longer than the ack timeout")
            # the written batches' acks went out while the socket was paused; the session outlived the outage (the
            # pause ran out after keepalive/2 without a PUBACK) and the broker sent no more than it had in flight
            assert acked() == PASSED
            assert metrics.value("acks_failed_total") == 0
            assert metrics.value("mqtt_connected") == 1 and metrics.value("mqtt_connects_total") == 1
            assert RECEIVE_MAXIMUM < metrics.value("messages_inflight") <= 2 * RECEIVE_MAXIMUM + 64  # the ceiling
            assert metrics.value("batches_written_total") == PASSED
            assert metrics.value("messages_read_pauses_total") >= 1
            proxy.mode = None  # InfluxDB back
            wait_for(lambda: acked() == AGENTS * BATCHES, 90, what="every agent acked for every batch")
            for agent in agents:
                assert agent.acked_seqs() == dict.fromkeys(range(1, BATCHES + 1), 1), agent.agent_id  # once each
            wait_for(lambda: metrics.value("messages_acked_total") == AGENTS * BATCHES, 30,
                     what="every message PUBACKed")
            assert metrics.value("acks_failed_total") == 0
            assert metrics.value("batches_written_total") == AGENTS * BATCHES
            assert metrics.value("mqtt_connects_total") == 1  # no reconnect was needed
            assert metrics.value("messages_stale_total") == 0
            assert metrics.value("duplicates_dropped_total") == 0 and metrics.value("duplicates_reacked_total") == 0
            rows = server.query('SELECT count("n") FROM "synthetic"', db)
            assert rows[0]["values"][0][1] == AGENTS * BATCHES * POINTS  # every point, once
        finally:
            for agent in agents:
                agent.close()
            fleet.stop()


def test_an_ack_lost_on_the_way_costs_a_resend_not_a_point(tmp_path: Path, mosquitto: int,
                                                           influx: tuple[Influx, str]) -> None:
    """Acks are QoS 0: one published while its agent is away is gone. The agent still holds the batches and sends
    them again; the collector acks them again without writing them a second time."""
    server, db = influx
    with influx_proxy(server.url) as proxy:
        proxy.mode = 503
        port = free_port()
        fleet = Fleet(tmp_path, mosquitto, server, db)
        fleet.collector_extra = {"metrics_listen": f"127.0.0.1:{port}", "stats_interval": 3600,
                                 "influx": {"url": proxy.url, "database": db, "flush_interval": 0.05,
                                            "timeout": WRITE_TIMEOUT}}
        metrics = Metrics(port)
        agent = fleet.add_agent("pc-away", rounds=10, points_per_round=5, interval="100ms")
        try:
            fleet.start_collector()
            agent.start()
            wait_for(lambda: metrics.value("batches_accepted_total") >= 3, 30, what="batches at the collector")
            agent.kill()  # its batches stay in its disk queue, unacked
            queued = fleet.queued_points("pc-away")
            received = metrics.value("batches_accepted_total")
            proxy.mode = None  # written now; the acks go to an agent that is not there
            wait_for(lambda: metrics.value("batches_written_total") >= received, 60, what="the batches written")
            assert metrics.value("acks_failed_total") == 0  # published fine, and lost: nobody was subscribed
            assert fleet.queue_state("pc-away")[0] >= received
            agent.start()  # sends its queue again
            wait_for(lambda: fleet.queue_state("pc-away")[0] == 0 and metrics.value("duplicates_reacked_total") >= 1,
                     60, what="the resent batches acked again")
            have = {(run, n) for (_, run), rows in fleet.stored().items() for _, n in rows}
            assert queued <= have
            assert_complete_and_ordered(fleet.stored())  # no gap, no duplicate

            def written_once() -> bool:  # every point written was accepted once (the agent's) or made by the collector
                m = {k[0]: v for k, v in metrics.read().items() if not k[1]}
                return m["points_written_total"] == m["points_accepted_total"] + m["own_points_total"] and \
                    m["batches_written_total"] == m["batches_accepted_total"]

            wait_for(written_once, 30, what="nothing written twice")
        finally:
            fleet.stop()
