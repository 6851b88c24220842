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
            wait_for(lambda: sink.to(commune_mail(codes[0])), what="the storm's first mail")
            members[0].service.kill()

            second = [alert("AgentOffline", c, summary="Máy trạm không gửi dữ liệu") for c in codes[10:]]

            async def post_all() -> dict[str, bool]:
                async with AlertmanagerClient([m.url for m in members], timeout=2) as c:
                    await c.post(first)  # the poster keeps re-posting what fires
                    res = await c.post(second)
                    assert c.stats[members[0].url].failures == 2
                    assert c.stats[members[1].url].failures == 0
                    return res
            assert run(post_all()) == {members[0].url: False, members[1].url: True}

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
