"""Real delivery through a real Alertmanager (Debian's 0.25) with a generated config: e-mail to aiosmtpd,
Telegram to a local Bot API stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.alerts import silences
from collector.alerts.alertmanager import AlertmanagerClient
from tests.support.alertmanager import AM, notifications_logged, start_alertmanager
from tests.support.alerts_env import (
    PROVINCE_MAIL,
    alert,
    commune_codes,
    commune_mail,
    held_alerts,
    run,
    write_config,
)
from tests.support.services import wait_for
from tests.support.smtp import SmtpSink
from tests.support.telegram_standin import TelegramStandin, telegram_standin

VIETTRI = "07900"


@pytest.fixture
def telegram() -> Iterator[TelegramStandin]:
    with telegram_standin() as t:
        yield t


def _start(tmp_path: Path, sink: SmtpSink, codes: list[str], telegram_url: str = "", group_wait: str = "1s") -> AM:
    conf = write_config(tmp_path / "am", codes, smtp_port=sink.port, telegram_url=telegram_url,
                        group_wait=group_wait)
    return start_alertmanager(tmp_path / "am", conf.read_text(encoding="utf-8"))


async def _post(am: AM | list[AM], alerts: list[dict[str, object]]) -> dict[str, bool]:
    urls = [m.url for m in am] if isinstance(am, list) else [am.url]
    async with AlertmanagerClient(urls, timeout=3) as client:
        return await client.post(alerts)


def test_vietnamese_mail_and_telegram_to_the_commune_then_resolved(tmp_path: Path, sink: SmtpSink,
                                                                   telegram: TelegramStandin) -> None:
    am = _start(tmp_path, sink, [VIETTRI, "08515"], telegram.url)
    try:
        a = alert("SiteLinkDown", VIETTRI, kind="incident", incident_id="sitelink:07900/tru-so-chinh",
                  summary="Mất kết nối Internet tại trụ sở chính",
                  description="Nguyên nhân: đường truyền cáp quang của nhà mạng bị đứt. Gọi tổng đài VNPT.")
        assert run(_post(am, [a])) == {am.url: True}
        mails = wait_for(lambda: sink.to(commune_mail(VIETTRI)), what="the commune's alert mail")
        assert len(mails) == 1
        m = mails[0]
        assert m.subject.startswith("[CẢNH BÁO] Phường Việt Trì – điểm tru-so-chinh")
        assert "Mất kết nối Internet tại trụ sở chính" in m.subject
        assert "Phường Việt Trì (07900)" in m.body
        assert "Điểm: tru-so-chinh" in m.body
        assert "đường truyền cáp quang của nhà mạng bị đứt" in m.body
        sent = wait_for(lambda: [t for t in telegram.sent() if str(t.get("chat_id")) == "1000"], what="telegram message")
        assert sent[0]["method"] == "sendMessage" and sent[0]["token"] == "123456:TEST-TOKEN"
        assert "Phường Việt Trì" in sent[0]["text"] and "cáp quang" in sent[0]["text"]

        run(_post(am, [alert("SiteLinkDown", VIETTRI, kind="incident", incident_id="sitelink:07900/tru-so-chinh",
                             summary="Mất kết nối Internet tại trụ sở chính", resolved=True)]))
        resolved = wait_for(lambda: [x for x in sink.to(commune_mail(VIETTRI)) if "ĐÃ KHẮC PHỤC" in x.subject],
                            what="the resolved mail")
        assert "Sự cố đã được khắc phục tại Phường Việt Trì" in resolved[0].body
        assert "Kết thúc:" in resolved[0].body
        assert sink.to(PROVINCE_MAIL) == [], "a warning-level site alert must not reach the province"
    finally:
        am.service.stop()


def test_portal_storm_is_one_notification_to_the_province(tmp_path: Path, sink: SmtpSink) -> None:
    codes = commune_codes(31)
    # group_wait gives Alertmanager's inhibitor time to see the incident before the symptoms' groups flush
    # (production uses 30s). Alertmanager flushes a new group at once if its alert started more than
    # group_wait ago, so the storm here starts now, as a fresh outage does.
    am = _start(tmp_path, sink, codes, group_wait="5s")
    try:
        now = datetime.now(UTC)
        storm = [alert("PortalDown", c, kind="symptom", incident_id="portal:dichvucong", target="dichvucong",
                       service="dichvucong", summary="Cổng dịch vụ công không truy cập được", starts=now)
             for c in codes[:30]]
        incident = alert("PortalIncident", None, kind="incident", severity="critical",
                         incident_id="portal:dichvucong", service="dichvucong",
                         summary="Cổng dịch vụ công lỗi ở 30 xã/phường", starts=now)
        run(_post(am, [incident, *storm]))
        province = wait_for(lambda: sink.to(PROVINCE_MAIL), what="the incident mail to the province")
        assert "Cổng dịch vụ công lỗi ở 30 xã/phường" in province[0].subject
        # A later alert to a commune outside the storm: once its mail is here, the storm's groups
        # (same group_wait, started earlier) have been flushed too.
        run(_post(am, [alert("AgentOffline", codes[30], summary="Máy trạm không gửi dữ liệu")]))
        wait_for(lambda: sink.to(commune_mail(codes[30])), what="the control mail")
        assert len(sink.to(PROVINCE_MAIL)) == 1
        assert [m for m in sink.all() if any(commune_mail(c) in m.to for c in codes[:30])] == []
        held = held_alerts(am.url, ['alertname="PortalDown"'])
        assert len(held) == 30 and all(h["status"]["inhibitedBy"] for h in held)
    finally:
        am.service.stop()


def test_maintenance_window_silences_a_commune(tmp_path: Path, sink: SmtpSink) -> None:
    other = "08515"
    am = _start(tmp_path, sink, [VIETTRI, other])
    try:
        async def window() -> str:
            async with AlertmanagerClient([am.url]) as client:
                sid = await silences.maintenance_window(client, VIETTRI, timedelta(hours=2), reason="thay router")
                assert [s["id"] for s in await client.silences(active_only=True)] == [sid]
                return sid
        sid = run(window())
        run(_post(am, [alert("AgentOffline", VIETTRI), alert("AgentOffline", other)]))
        wait_for(lambda: sink.to(commune_mail(other)), what="the mail of the commune without maintenance")
        assert sink.to(commune_mail(VIETTRI)) == []
        held = held_alerts(am.url, [f'commune="{VIETTRI}"'])
        assert held[0]["status"]["silencedBy"] == [sid]

        async def end() -> list[str]:
            async with AlertmanagerClient([am.url]) as client:
                await silences.end(client, sid)
                return [s["status"]["state"] for s in await client.silences()]
        assert run(end()) == ["expired"]
        wait_for(lambda: sink.to(commune_mail(VIETTRI)), what="the mail once the window ended")
    finally:
        am.service.stop()


def test_restart_with_kept_storage_sends_no_false_resolved(tmp_path: Path, sink: SmtpSink) -> None:
    other = "08515"
    am = _start(tmp_path, sink, [VIETTRI, other])
    try:
        a = alert("AgentOffline", VIETTRI, summary="Máy trạm không gửi dữ liệu")
        run(_post(am, [a]))
        wait_for(lambda: sink.to(commune_mail(VIETTRI)), what="the first mail")
        # stop only once Alertmanager has recorded the notification (a stop in between would rightly resend)
        wait_for(lambda: notifications_logged(am) == 1, what="Alertmanager logging the notification")
        am.service.stop()
        am.service.start()
        # the poster re-posts the firing alert (same startsAt) as it does every interval
        wait_for(lambda: run(_post(am, [a])) == {am.url: True}, what="re-post accepted")
        wait_for(lambda: held_alerts(am.url, [f'commune="{VIETTRI}"']), what="alert back")
        run(_post(am, [alert("AgentOffline", other)]))
        wait_for(lambda: sink.to(commune_mail(other)), what="the control mail after the restart")
        mails = sink.to(commune_mail(VIETTRI))
        assert [m.subject.split("]")[0] for m in mails] == ["[CẢNH BÁO"], [m.subject for m in mails]
    finally:
        am.service.stop()
