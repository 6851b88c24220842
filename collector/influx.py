"""InfluxDB writers behind one interface, and InfluxQL reads.

- ``V1Writer``: ``POST /write?db=&precision=ns`` (InfluxDB 1.x, the version Debian ships; tests run against it).
- ``V2Writer``: ``POST /api/v2/write?org=&bucket=&precision=ns`` with ``Authorization: Token`` (InfluxDB 2.x/3.x).
Reads use InfluxQL on ``/query`` (1.x natively, 2.x through its v1-compatible endpoint with DBRP, 3.x natively).

A write returns normally on 2xx. Otherwise it raises WriteError with a ``kind`` (see ``classify``): only a write
InfluxDB rejects for a line's content may be bisected and quarantined; auth and missing-target errors
(401/403/404) block the writer until an operator fixes them, 413 splits the write, 5xx/429/timeouts retry.
"""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp
import msgspec

from collector.config import InfluxSection
from collector.errors import ConfigError, WriteError
from common.secret_files import read_secret

_CONTENT_MARKERS = ("partial write", "field type conflict", "unable to parse", "invalid", "bad timestamp",
                    "points beyond retention policy", "max-values-per-tag", "max-series-per-database")
_BLOCKED = {401: "unauthorized", 403: "forbidden", 404: "not_found"}


def classify(status: int, text: str) -> tuple[str, str]:
    """(kind, reason) of a non-2xx answer; see ``WriteError``. A 400/422 counts as a content rejection only
    when InfluxDB's message says so; any other client error keeps the data (blocked) rather than lose it."""
    if status >= 500 or status == 429:
        return "retry", f"http_{status}"
    if status == 413:
        return "too_large", "too_large"
    if status in _BLOCKED:
        return "blocked", _BLOCKED[status]
    low = text.lower()
    if status in (400, 422) and any(m in low for m in _CONTENT_MARKERS):
        return "content", "content"
    return "blocked", f"http_{status}"


class InfluxClient(Protocol):
    """What the collector needs from InfluxDB: create the database, write line protocol, read InfluxQL."""

    async def ensure_database(self) -> None:
        """Create the database if the server lets us (1.x); nothing on 2.x/3.x, where the operator makes buckets."""

    async def write(self, body: bytes) -> None:
        """Write line protocol (ns precision); raise WriteError (``retryable`` or not) unless InfluxDB answered 2xx."""

    async def query(self, q: str) -> list[dict[str, Any]]:
        """InfluxQL; the series of the first statement."""

    async def close(self) -> None: ...


class _QueryResult(msgspec.Struct):
    results: list[dict[str, Any]] = []
    error: str = ""


class _HttpBase:
    def __init__(self, cfg: InfluxSection, source: str = "collector config") -> None:
        self.cfg = cfg
        self.base = cfg.url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._token = read_secret(cfg.token, cfg.token_file, f"{source}: influx.token_file", ConfigError)
        self._timeout = aiohttp.ClientTimeout(total=cfg.timeout)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def _auth_params(self) -> dict[str, str]:
        if self.cfg.username:
            return {"u": self.cfg.username, "p": self.cfg.password}
        return {}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self._token}"} if self._token else {}

    async def _post(self, path: str, params: dict[str, str], body: bytes) -> None:
        try:
            async with self.session().post(f"{self.base}{path}", params=params, data=body,
                                           headers={**self._headers(), "Content-Type": "text/plain; charset=utf-8"}) as r:
                if 200 <= r.status < 300:
                    return
                text = (await r.text())[:2000]
        except TimeoutError:
            raise WriteError(f"InfluxDB {self.base} did not answer within {self.cfg.timeout:g}s", kind="retry",
                             reason="timeout") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise WriteError(f"InfluxDB {self.base} unreachable: {type(exc).__name__}: {exc}", kind="retry",
                             reason="unreachable") from None
        kind, reason = classify(r.status, text)
        raise WriteError(f"InfluxDB answered {r.status}: {text.strip()}", status=r.status, kind=kind, reason=reason)

    async def query(self, q: str) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the list of series dicts of the first statement."""
        params = {"db": self.cfg.database, "q": q, "epoch": "ns", **self._auth_params()}
        try:
            async with self.session().post(f"{self.base}/query", data=params, headers=self._headers()) as r:
                raw = await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise WriteError(f"InfluxDB {self.base} unreachable: {exc}") from None
        if status != 200:
            raise WriteError(f"InfluxDB query answered {status}: {raw[:500]!r}", status=status, retryable=False)
        res = msgspec.json.decode(raw, type=_QueryResult)
        if res.error:
            raise WriteError(f"InfluxDB query error: {res.error}", retryable=False)
        if not res.results:
            return []
        first = res.results[0]
        if "error" in first:
            raise WriteError(f"InfluxDB query error: {first['error']}", retryable=False)
        series: list[dict[str, Any]] = first.get("series", [])
        return series

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class V1Writer(_HttpBase):
    async def write(self, body: bytes) -> None:
        await self._post("/write", {"db": self.cfg.database, "precision": "ns", **self._auth_params()}, body)

    async def ensure_database(self) -> None:
        await self.query(f'CREATE DATABASE "{self.cfg.database}"')


class V2Writer(_HttpBase):
    async def write(self, body: bytes) -> None:
        params = {"org": self.cfg.org, "bucket": self.cfg.bucket or self.cfg.database, "precision": "ns"}
        await self._post("/api/v2/write", params, body)

    async def ensure_database(self) -> None:
        """Buckets are created by the operator on 2.x/3.x; nothing to do."""


def make_influx_client(cfg: InfluxSection, source: str = "collector config") -> V1Writer | V2Writer:
    return V1Writer(cfg, source) if cfg.api == "v1" else V2Writer(cfg, source)

