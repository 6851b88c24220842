"""Client for every member of an Alertmanager cluster: alerts are posted to all members concurrently,
silences go to the first member that answers (Alertmanager gossips them to its peers).

One member down never blocks or fails the others: each call has a timeout, failures are counted per
member and logged, and ``post`` never raises because of one member.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp

log = logging.getLogger(__name__)


class ApiAlert(Protocol):
    def to_api(self) -> dict[str, Any]: ...


class AlertmanagerError(Exception):
    """No member of the cluster accepted a silence call (the message says why, per member)."""


@dataclass
class MemberStats:
    url: str
    posts: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}


def matchers_from_labels(labels: Mapping[str, str]) -> list[Matcher]:
    """Exact matchers for every label: a silence that covers exactly the alert with these labels."""
    return [Matcher(k, v) for k, v in sorted(labels.items())]


def iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _as_api(alert: ApiAlert | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(alert, Mapping):
        return dict(alert)
    return alert.to_api()


@dataclass
class AlertmanagerClient:
    """``urls`` are the members' base URLs (``http://host:9093``); ``timeout`` bounds every HTTP call."""

    urls: list[str]
    timeout: float = 5.0
    stats: dict[str, MemberStats] = field(init=False)
    _session: aiohttp.ClientSession | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("AlertmanagerClient needs at least one Alertmanager URL")
        self.urls = [u.rstrip("/") for u in self.urls]
        self.stats = {u: MemberStats(u) for u in self.urls}

    async def __aenter__(self) -> AlertmanagerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post_one(self, url: str, body: list[dict[str, Any]]) -> bool:
        st = self.stats[url]
        st.posts += 1
        try:
            async with self._client().post(f"{url}/api/v2/alerts", json=body) as resp:
                if resp.status >= 300:
                    text = (await resp.text())[:200]
                    raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status, message=text)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            st.failures += 1
            st.consecutive_failures += 1
            st.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("alertmanager %s: posting %d alerts failed: %s", url, len(body), st.last_error)
            return False
        st.consecutive_failures = 0
        st.last_error = ""
        return True

    async def post(self, alerts: Iterable[ApiAlert | Mapping[str, Any]]) -> dict[str, bool]:
        """Post to every member concurrently; returns url -> accepted. Never raises for a member down."""
        body = [_as_api(a) for a in alerts]
        if not body:
            return {u: True for u in self.urls}
        results = await asyncio.gather(*(self._post_one(u, body) for u in self.urls))
        return dict(zip(self.urls, results, strict=True))

    async def _first(self, method: str, path: str, json: Any = None) -> Any:
        """Call the members in order until one answers; raise AlertmanagerError naming every failure."""
        errors = []
        for url in self.urls:
            try:
                async with self._client().request(method, f"{url}{path}", json=json) as resp:
                    if resp.status >= 300:
                        errors.append(f"{url}: HTTP {resp.status} {(await resp.text())[:200]}")
                        continue
                    return await resp.json(content_type=None) if resp.content_length != 0 else None
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self.stats[url].failures += 1
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
        raise AlertmanagerError(f"{method} {path} failed on every Alertmanager: " + "; ".join(errors))

    async def create_silence(self, matchers: Sequence[Matcher], starts: datetime, ends: datetime,
                             created_by: str, comment: str) -> str:
        """Create a silence; returns its id."""
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        if ends <= starts:
            raise ValueError("a silence must end after it starts")
        body = {"matchers": [m.to_api() for m in matchers], "startsAt": iso(starts), "endsAt": iso(ends),
                "createdBy": created_by, "comment": comment}
        data = await self._first("POST", "/api/v2/silences", body)
        return str(data["silenceID"])

    async def delete_silence(self, silence_id: str) -> None:
        """Expire a silence (Alertmanager keeps it, expired, until its retention ends)."""
        await self._first("DELETE", f"/api/v2/silence/{silence_id}")

    expire_silence = delete_silence

    async def silences(self, active_only: bool = False) -> list[dict[str, Any]]:
        data = await self._first("GET", "/api/v2/silences")
        out = list(data or [])
        if active_only:
            out = [s for s in out if s.get("status", {}).get("state") == "active"]
        return out

    async def alerts(self, filters: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Alerts as Alertmanager holds them (``filters`` like ``commune="07900"``)."""
        query = urllib.parse.urlencode([("filter", f) for f in filters])
        path = "/api/v2/alerts" + (f"?{query}" if query else "")
        return list(await self._first("GET", path) or [])
