"""Alertmanager HA: two clustered members, the poster posting to both; one member killed while a storm fires
-> every notification still arrives exactly once (the members dedup through the gossiped notification log)."""

from __future__ import annotations

from pathlib import Path

from collector.alerts.alertmanager import AlertmanagerClient
from tests.support.alertmanager import start_cluster
from tests.support.alerts_env import alert, commune_codes, commune_mail, post, run, write_config
from tests.support.services import wait_for
from tests.support.smtp import smtp_sink


def _cluster_size(url: str) -> int:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{url}/api/v2/status", timeout=3) as r:
        status = json.loads(r.read())
    return sum(1 for p in status["cluster"].get("peers") or [] if p)


def _metric(url: str, name: str, labels: str = "") -> float:
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics", timeout=3) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and labels in line)


def test_one_member_killed_during_a_storm_every_notification_once(tmp_path: Path) -> None:
    codes = commune_codes(20)
    with smtp_sink() as sink:
        conf = write_config(tmp_path / "conf", codes, smtp_port=sink.port)
        members = start_cluster(tmp_path, conf.read_text(encoding="utf-8"), n=2)
        try:
            wait_for(lambda: all(_cluster_size(m.url) == 2 for m in members), what="both members see each other")
            urls = [m.url for m in members]

            first = [alert("AgentOffline", c, summary="Máy trạm không gửi dữ liệu") for c in codes[:10]]
            assert post(urls, first) == {m.url: True for m in members}
            wait_for(lambda: all(sink.to(commune_mail(c)) for c in codes[:10]), timeout=60,
                     what="the first half of the storm's mails")
            # HA is at-least-once for a member killed between sending and gossiping its notification log:
            # kill the member that sent, once the other has received what it gossiped
            # (usually one member sends them all, but the other may send some whose entry had not reached it
            # after its peer timeout: wait for all ten entries across both, kill the one that sent more)
            def sender() -> int | None:
                sent = [_metric(m.url, "alertmanager_nflog_gossip_messages_propagated_total") for m in members]
                return max(range(len(sent)), key=lambda i: sent[i]) if sum(sent) >= 10 else None

            killed_i = wait_for(lambda: (i := sender()) is not None and i + 1, timeout=60,
                                what="the sending member's notification log gossiped") - 1
            killed, survivor = members[killed_i], members[1 - killed_i]
            propagated = _metric(killed.url, "alertmanager_nflog_gossip_messages_propagated_total")
            wait_for(lambda: _metric(survivor.url, "alertmanager_cluster_messages_received_total",
                                     'msg_type="update"') >= propagated, timeout=60,
                     what="the survivor's copy of the notification log")
            killed.service.kill()

            second = [alert("AgentOffline", c, summary="Máy trạm không gửi dữ liệu") for c in codes[10:]]

            async def post_all() -> dict[str, bool]:
                async with AlertmanagerClient([m.url for m in members], timeout=2) as c:
                    await c.post(first)  # the poster keeps re-posting what fires
                    res = await c.post(second)
                    assert c.stats[killed.url].failures == 2
                    assert c.stats[survivor.url].failures == 0
                    return res
            assert run(post_all()) == {killed.url: False, survivor.url: True}

            wait_for(lambda: all(sink.to(commune_mail(c)) for c in codes), timeout=60,
                     what="a mail for every commune of the storm")
            # a control alert posted last: once its mail is here, any duplicate would be too
            post(urls, [alert("AgentOffline", None, summary="Kiểm tra cuối")])
            wait_for(lambda: [m for m in sink.all() if "Kiểm tra cuối" in m.subject], timeout=60,
                     what="the control mail")
            counts = {c: len(sink.to(commune_mail(c))) for c in codes}
            assert counts == dict.fromkeys(codes, 1)
        finally:
            for m in members:
                m.service.stop()
