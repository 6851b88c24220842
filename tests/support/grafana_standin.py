"""A local stand-in for the parts of Grafana's HTTP API that ``dashboards push`` uses, checking requests the
way Grafana does: a ``Bearer`` service-account token, JSON bodies, folder uids, the save-dashboard payload
(``dashboard`` with a title, ``folderUid`` of an existing folder, ``overwrite``, version checks). Grafana
itself cannot run on this machine."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UID_RE = re.compile(r"^[a-zA-Z0-9\-_]{1,40}$")  # Grafana's rule for folder and dashboard uids


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class GrafanaState:
    token: str
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> {"dashboard", "folderUid", "version"}
    requests: list[Request] = field(default_factory=list)
    next_id: int = 1


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                return self._reply(415, {"message": "Unsupported Media Type"})
            try:
                body = json.loads(raw)
            except ValueError:
                return self._reply(400, {"message": "bad request data"})
        st = self.state
        st.requests.append(Request(method, self.path, dict(self.headers.items()), body))
        if self.path == "/api/health":
            return self._reply(200, {"database": "ok", "version": "11.6.0"})
        if self.headers.get("Authorization") != f"Bearer {st.token}":
            return self._reply(401, {"message": "invalid API key", "traceID": ""})
        m = re.fullmatch(r"/api/folders/([^/?]+)", self.path)
        if method == "GET" and m:
            folder = st.folders.get(m.group(1))
            return self._reply(200, folder) if folder else self._reply(404, {"message": "folder not found",
                                                                             "status": "not-found"})
        if method == "POST" and self.path == "/api/folders":
            return self._create_folder(body)
        if method == "POST" and self.path == "/api/dashboards/db":
            return self._save_dashboard(body)
        return self._reply(404, {"message": "Not found"})

    def _create_folder(self, body: Any) -> None:
        st = self.state
        if not isinstance(body, dict) or not body.get("title"):
            return self._reply(400, {"message": "folder title cannot be empty"})
        uid = body.get("uid") or f"f{st.next_id}"
        if not UID_RE.match(uid):
            return self._reply(400, {"message": "uid contains illegal characters"})
        if uid in st.folders:
            return self._reply(409, {"message": "a folder with the same uid already exists"})
        folder = {"id": st.next_id, "uid": uid, "title": body["title"], "url": f"/dashboards/f/{uid}/", "version": 1}
        st.next_id += 1
        st.folders[uid] = folder
        return self._reply(200, folder)

    def _save_dashboard(self, body: Any) -> None:
        st = self.state
        if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
            return self._reply(400, {"message": "bad request data"})
        board = body["dashboard"]
        if not str(board.get("title", "")).strip():
            return self._reply(400, {"message": "Dashboard title cannot be empty", "status": "empty-name"})
        uid = board.get("uid") or ""
        if uid and not UID_RE.match(uid):
            return self._reply(400, {"message": "uid contains illegal characters", "status": "invalid-uid"})
        folder_uid = body.get("folderUid") or ""
        if folder_uid and folder_uid not in st.folders:
            return self._reply(400, {"message": "folder not found", "status": "folder-not-found"})
        existing = st.dashboards.get(uid)
        if board.get("id") is not None and (existing is None or existing["id"] != board["id"]):
            return self._reply(404, {"message": "Dashboard not found", "status": "not-found"})
        if existing and not body.get("overwrite") and board.get("version") != existing["version"]:
            return self._reply(412, {"message": "The dashboard has been changed by someone else",
                                     "status": "version-mismatch"})
        version = existing["version"] + 1 if existing else 1
        dash_id = existing["id"] if existing else st.next_id
        if not existing:
            st.next_id += 1
        st.dashboards[uid] = {"id": dash_id, "dashboard": board, "folderUid": folder_uid, "version": version,
                              "message": body.get("message", "")}
        return self._reply(200, {"id": dash_id, "uid": uid, "url": f"/d/{uid}/x", "status": "success",
                                 "version": version, "slug": "x"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


class GrafanaStandIn:
    def __init__(self, token: str) -> None:
        self.state = GrafanaState(token)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GrafanaStandIn:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
