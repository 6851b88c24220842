"""The dev stack's SMTP sink keeps every mail as a .eml file in its folder."""

from __future__ import annotations

import email
import email.policy
import smtplib
from email.message import EmailMessage
from pathlib import Path

from devstack import services as stack
from tests.support.services import wait_for


def test_mail_is_stored_as_an_eml_file(tmp_path: Path) -> None:
    port = stack.free_port()
    svc = stack.smtp_sink(tmp_path / "sink", port, tmp_path / "mail")
    svc.start()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "giamsat@giamsat.local", "cntt-07900@giamsat.local", "[CẢNH BÁO] Phường Việt Trì"
        msg.set_content("Máy local-agent không gửi dữ liệu.")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(msg)
        files = wait_for(lambda: sorted((tmp_path / "mail").glob("*.eml")), 10, what="the stored mail")
        assert len(files) == 1
        stored = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
        assert stored["Subject"] == "[CẢNH BÁO] Phường Việt Trì"
        assert str(files[0]) in wait_for(lambda: str(files[0]) in svc.logfile.read_text() and svc.logfile.read_text(),
                                         10, what="the path printed")
    finally:
        svc.stop()
