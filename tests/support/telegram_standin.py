"""A local stand-in for the Telegram Bot API: records sendMessage calls and answers like Telegram does
(a full message object with ``result.chat``: Alertmanager 0.25 panics without it)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class TelegramStandin:
    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages)


@contextmanager
def telegram_standin() -> Iterator[TelegramStandin]:
    state = TelegramStandin()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(raw or b"{}")
            else:
                params = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            # path: /bot<token>/sendMessage
            parts = self.path.split("?")[0].strip("/").split("/")
            token = parts[0].removeprefix("bot") if parts else ""
            method = parts[-1] if parts else ""
            with state.lock:
                state.messages.append({"token": token, "method": method, **params})
                msg_id = len(state.messages)
            chat_id = int(params.get("chat_id", 0))
            body = {"ok": True, "result": {
                "message_id": msg_id, "date": int(time.time()), "text": params.get("text", ""),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup", "title": "test"},
                "from": {"id": 1, "is_bot": True, "first_name": "bot", "username": "cm_bot"},
            }}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
