"""http: service-portal checks with per-phase timing (blackbox_exporter's http prober as the bar).

Measurement ``http`` (tags ``service`` = configured name, ``url``):
status_code, dns_ms, connect_ms, tls_ms, processing_ms (request sent -> first byte),
transfer_ms, first_byte_ms (start -> first byte, like curl's time_starttransfer), total_ms,
body_bytes, redirects, tls_days_left, tls_chain_valid (1/0), plus result/ok/reason.

Result codes: ok; dns_error; connect_refused; connect_error; connect_timeout; tls_error; cert_expired;
tls_timeout; read_timeout; reset; bad_response; http_status (status not expected);
content_mismatch (expected text missing, or a "maintenance" text present); too_many_redirects;
proxy_error; bad_url; cert_expiring is not a failure (see tls_days_left).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from typing import Annotated, ClassVar

import msgspec

from agent.httptiming import ProbeFailure, RequestSpec, Response, TimedHTTP
from agent.probes.base import RESULT_OK, Probe, ProbeConfig, result_fields
from agent.units import Duration
from agent.wire import Point


class HttpTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    url: Annotated[str, msgspec.Meta(pattern=r"^https?://")]
    method: str = "GET"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    valid_status: list[int] = msgspec.field(default_factory=lambda: list(range(200, 300)))
    expect: str = ""
    """Regular expression the body must match (empty: no check)."""
    fail_if_matches: list[str] = msgspec.field(default_factory=list)
    """Regular expressions that mark the page as down even with a good status (maintenance pages)."""
    follow_redirects: bool = True
    max_redirects: Annotated[int, msgspec.Meta(ge=0, le=20)] = 5
    ca_file: str = ""
    """Extra CA bundle (PEM) to trust, e.g. a provincial CA."""
    insecure_skip_verify: bool = False
    proxy: str = ""
    timeout: Duration | None = None
    slow_ms: Annotated[float, msgspec.Meta(gt=0)] | None = None
    """Total time above which the check is reported slow (``slow`` field = 1); still ok."""


class HttpConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(60)
    timeout: Duration = Duration(15)
    targets: list[HttpTarget] = msgspec.field(default_factory=list)
    proxy: str = ""
    """Default proxy for every target (http://host:port)."""
    max_body_bytes: Annotated[int, msgspec.Meta(ge=0)] = 256 * 1024


def _compile(target: HttpTarget) -> tuple[re.Pattern[str] | None, list[re.Pattern[str]]]:
    expect = re.compile(target.expect) if target.expect else None
    return expect, [re.compile(p, re.IGNORECASE) for p in target.fail_if_matches]


class HttpProbe(Probe[HttpConfig]):
    name: ClassVar[str] = "http"
    Config: ClassVar[type[ProbeConfig]] = HttpConfig

    def __init__(self, config: HttpConfig, ctx: object) -> None:
        super().__init__(config, ctx)  # type: ignore[arg-type]
        self._client = TimedHTTP()
        self._patterns = {t.name: _compile(t) for t in config.targets}
        self._contexts = {t.name: self._ssl_context(t) for t in config.targets}

    @staticmethod
    def _ssl_context(target: HttpTarget) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=target.ca_file or None)
        if target.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def collect(self) -> list[Point]:
        return list(await asyncio.gather(*(self.check(t) for t in self.config.targets)))

    async def check(self, target: HttpTarget) -> Point:
        ts = self.ctx.clock_ns()
        resp = Response()
        spec = RequestSpec(
            url=target.url, method=target.method, headers=target.headers,
            follow_redirects=target.follow_redirects, max_redirects=target.max_redirects,
            max_body_bytes=self.config.max_body_bytes, ssl_context=self._contexts[target.name],
            proxy=target.proxy or self.config.proxy,
        )
        timeout = target.timeout or self.config.timeout
        code, reason = RESULT_OK, ""
        try:
            async with asyncio.timeout(timeout):
                await self._client.request(spec, resp)
            code, reason = self._judge(target, resp)
        except ProbeFailure as exc:
            code, reason = exc.code, exc.reason
        except TimeoutError:
            phase = resp.phase
            code = {"dns": "dns_error", "connect": "connect_timeout", "tls": "tls_timeout"}.get(phase, "read_timeout")
            reason = f"no answer within {timeout:g}s during {phase}"
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            code, reason = "bad_response" if isinstance(exc, ValueError) else "reset", f"{type(exc).__name__}: {exc}"
        return self.point("http", self._fields(target, resp, code, reason), {"service": target.name, "url": target.url}, ts)

    def _judge(self, target: HttpTarget, resp: Response) -> tuple[str, str]:
        if resp.status not in target.valid_status:
            return "http_status", f"HTTP {resp.status} from {resp.url}"
        expect, fail_patterns = self._patterns[target.name]
        text = resp.body.decode("utf-8", errors="replace")
        for pattern in fail_patterns:
            if pattern.search(text):
                return "content_mismatch", f"page matches {pattern.pattern!r} (maintenance or error page)"
        if expect is not None and not expect.search(text):
            return "content_mismatch", f"expected text {expect.pattern!r} not found"
        return RESULT_OK, ""

    def _fields(self, target: HttpTarget, resp: Response, code: str, reason: str) -> dict[str, float | int | str | bool | None]:
        ph = resp.phases_ms
        fields: dict[str, float | int | str | bool | None] = {
            "status_code": resp.status,
            "dns_ms": ph["dns"], "connect_ms": ph["connect"], "tls_ms": ph["tls"],
            "processing_ms": ph["processing"], "transfer_ms": ph["transfer"],
            "first_byte_ms": ph["dns"] + ph["connect"] + ph["tls"] + ph["processing"],
            "total_ms": resp.total_ms, "body_bytes": len(resp.body), "redirects": resp.redirects,
            **result_fields(code, reason),
        }
        if resp.cert is not None:
            fields["tls_days_left"] = (resp.cert.not_after - time.time()) / 86400.0
            fields["tls_chain_valid"] = 1 if resp.cert.verified else 0
        if target.slow_ms is not None:
            fields["slow"] = 1 if resp.total_ms > target.slow_ms else 0
        return fields
