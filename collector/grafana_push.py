"""``commune-collector dashboards push``: upload the generated dashboards to Grafana through its HTTP API
(grafana-client): make sure the folder exists (by uid), then save every dashboard into it with
``overwrite: true`` (the JSON is generated; Grafana's copy is never edited by hand). Authenticates with a
service-account token (``Authorization: Bearer``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from collector.errors import CollectorError

DEFAULT_FOLDER_UID = "commune-monitor"
DEFAULT_FOLDER_TITLE = "Commune Monitor"


class PushError(CollectorError):
    pass


@dataclass
class PushResult:
    folder_uid: str
    folder_created: bool
    dashboards: list[dict[str, Any]] = field(default_factory=list)  # Grafana's answers: uid, url, version


def load_dashboards(directory: Path) -> list[dict[str, Any]]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise PushError(f"{directory}: no dashboards (*.json); generate them with python -m dashboards.generate")
    out = []
    for f in files:
        try:
            board = json.loads(f.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise PushError(f"{f}: not a dashboard: {exc}") from None
        if not isinstance(board, dict) or not board.get("uid") or not board.get("title"):
            raise PushError(f"{f}: a dashboard needs a uid and a title")
        out.append(board)
    return out


def push(url: str, token: str, directory: Path, folder_uid: str = DEFAULT_FOLDER_UID,
         folder_title: str = DEFAULT_FOLDER_TITLE, message: str = "commune-collector dashboards push",
         timeout: float = 10.0) -> PushResult:
    boards = load_dashboards(directory)
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    try:
        created = _ensure_folder(api, folder_uid, folder_title)
        result = PushResult(folder_uid, created)
        for board in boards:
            payload = {"dashboard": {**board, "id": None}, "folderUid": folder_uid, "overwrite": True,
                       "message": message}
            result.dashboards.append(api.dashboard.update_dashboard(payload))
        return result
    except GrafanaClientError as exc:  # 4xx: Grafana's own message says why (bad token, folder, payload)
        raise PushError(f"Grafana {url} answered {exc.status_code}: {exc.response or exc}") from None
    except GrafanaException as exc:
        raise PushError(f"Grafana {url}: {exc}") from None
    except OSError as exc:
        raise PushError(f"Grafana {url} unreachable: {exc}") from None


def _ensure_folder(api: GrafanaApi, uid: str, title: str) -> bool:
    try:
        api.folder.get_folder(uid)  # type: ignore[no-untyped-call]
        return False
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
    api.folder.create_folder(title, uid=uid)  # type: ignore[no-untyped-call]
    return True
