"""``python -m devstack.smtp_sink``: a local SMTP server (aiosmtpd) for the dev stack that keeps every mail
as a ``.eml`` file in a folder (``state/mail/``) and prints where, with its subject."""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import sys
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MailDir:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{self.count:04d}.eml"
        path = self.folder / name
        path.write_bytes(envelope.original_content)
        subject = email.message_from_bytes(envelope.original_content, policy=email.policy.default)["Subject"]
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {subject} -> {path}", flush=True)
        return "250 OK"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devstack.smtp_sink", description=__doc__)
    p.add_argument("--port", type=int, default=19825, help="port on 127.0.0.1 (default: %(default)s)")
    p.add_argument("--dir", type=Path, default=Path("state/mail"), help="where mails go (default: %(default)s)")
    args = p.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    ctl = Controller(MailDir(args.dir.resolve()), hostname="127.0.0.1", port=args.port, auth_require_tls=False)
    ctl.start()
    print(f"SMTP sink on 127.0.0.1:{args.port}, mails stored in {args.dir.resolve()}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
