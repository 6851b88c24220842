"""clock: is this PC's clock right? Signatures, OCSP answers and TLS fail when it is not.

Compares this machine's clock with an NTP server (one SNTP query) and/or the ``Date`` header of a URL
(1-second resolution). The measurement keeps the name it had when this check lived in the token probe:

- ``token_clock`` (tags source = ntp|http, server): offset_ms (reference minus this machine: positive
  means this clock is behind), rtt_ms, plus result/ok/reason. Result codes: see ``ClockResult``.

``timeout`` is the probe's round; each query gets 90 % of it, so a query that hangs is reported as this
probe's own ``timeout`` point rather than cut off by the scheduler.
"""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import ClassVar, Final

from agent.net import sntp
from agent.net.httptiming import RequestSpec, Response, TimedHTTP
from agent.probes.base import CheckLine, Probe, ProbeConfig, ProbeContext, ProbeFailure, result_fields
from agent.units import Duration
from agent.wire import FieldValue, Point
from agent.wire.spec import RESULT_FIELDS, MeasurementSpec, float_field, measurement
from common import vnformat

SECTION = "Chữ ký số"
MAX_TAG = 256


class ClockResult(StrEnum):
    OK = "ok"
    CLOCK_WRONG = "clock_wrong"
    """|offset| above ``max_offset``."""
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    CONNECT_ERROR = "connect_error"
    """E.g. ICMP port unreachable."""
    CONNECT_REFUSED = "connect_refused"
    BAD_RESPONSE = "bad_response"
    KISS_OF_DEATH = "kiss_of_death"
    """The NTP server refused the query (stratum 0)."""
    NO_DATE = "no_date"
    """HTTP answer without a usable Date header."""
    TLS_ERROR = "tls_error"
    CERT_EXPIRED = "cert_expired"
    RESET = "reset"
    PROXY_ERROR = "proxy_error"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_URL = "bad_url"


class ClockConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(300)
    timeout: Duration = Duration(5)
    ntp_server: str = ""
    """host or host:port of an NTP server (SNTP query)."""
    http_url: str = ""
    """URL whose HTTP Date header serves as reference (1 s resolution), e.g. the collector's."""
    max_offset: Duration = Duration(60)

    def __post_init__(self) -> None:
        if not self.ntp_server and not self.http_url:
            raise ValueError("set ntp_server, http_url or both")
        if self.http_url and not self.http_url.startswith(("http://", "https://")):
            raise ValueError(f"http_url must start with http:// or https://, got {self.http_url!r}")


MEASUREMENTS: Final = (
    measurement("token_clock", "clock", {"source": "ntp or http", "server": "NTP server or URL"}, {
        "offset_ms": float_field("ms", "reference clock minus this PC's clock (positive: this PC is behind)"),
        "rtt_ms": float_field("ms", "round trip of the query"),
        **RESULT_FIELDS,
    }),
)


class ClockProbe(Probe[ClockConfig]):
    name: ClassVar[str] = "clock"
    results: ClassVar[type[StrEnum] | None] = ClockResult
    Config: ClassVar[type[ProbeConfig]] = ClockConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    def __init__(self, config: ClockConfig, ctx: ProbeContext) -> None:
        super().__init__(config, ctx)
        self._http = TimedHTTP()

    @property
    def query_limit(self) -> float:
        return float(self.config.timeout) * 0.9

    async def collect(self) -> list[Point]:
        jobs = []
        if self.config.ntp_server:
            jobs.append(self.check_ntp())
        if self.config.http_url:
            jobs.append(self.check_http_date())
        return list(await asyncio.gather(*jobs))

    def _point(self, source: str, server: str, offset_s: float | None, rtt_s: float | None,
               code: ClockResult, reason: str, ts: int) -> Point:
        if code == ClockResult.OK and offset_s is not None and abs(offset_s) > self.config.max_offset:
            code = ClockResult.CLOCK_WRONG
            reason = f"this clock is {abs(offset_s):.1f}s {'behind' if offset_s > 0 else 'ahead of'} {server}"
        fields: dict[str, FieldValue | None] = {
            "offset_ms": None if offset_s is None else offset_s * 1000.0,
            "rtt_ms": None if rtt_s is None else rtt_s * 1000.0, **result_fields(code, reason),
        }
        return self.point("token_clock", fields, {"source": source, "server": server[:MAX_TAG]}, ts)

    async def check_ntp(self) -> Point:
        server = self.config.ntp_server
        ts = self.ctx.clock_ns()
        try:
            res = await sntp.query(server, limit_s=self.query_limit, clock=lambda: self.ctx.clock_ns() / 1e9)
        except ProbeFailure as exc:
            return self._point("ntp", server, None, None, ClockResult(exc.code), exc.reason, ts)
        except OSError as exc:
            return self._point("ntp", server, None, None, ClockResult.CONNECT_ERROR, str(exc), ts)
        return self._point("ntp", server, res.offset_s, res.delay_s, ClockResult.OK, "", ts)

    async def check_http_date(self) -> Point:
        url = self.config.http_url
        ts = self.ctx.clock_ns()
        t1 = self.ctx.clock_ns() / 1e9
        resp = Response()
        code: ClockResult = ClockResult.OK
        reason = ""
        try:
            async with asyncio.timeout(self.query_limit):
                await self._http.request(RequestSpec(url=url, method="HEAD", follow_redirects=False), resp)
        except ProbeFailure as exc:
            code, reason = ClockResult(exc.code), exc.reason
        except TimeoutError:
            code, reason = ClockResult.TIMEOUT, f"no answer within {self.query_limit:g}s"
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            code, reason = ClockResult.BAD_RESPONSE, f"{type(exc).__name__}: {exc}"
        t4 = self.ctx.clock_ns() / 1e9
        if code != ClockResult.OK:
            return self._point("http", url, None, None, code, reason, ts)
        date = resp.headers.get("date", "")
        try:
            server_time = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return self._point("http", url, None, t4 - t1, ClockResult.NO_DATE,
                               f"no usable Date header in the answer ({date[:40]!r})", ts)
        # The Date header is truncated to the second: compare with the middle of the exchange + 0.5 s.
        offset = server_time + 0.5 - (t1 + t4) / 2.0
        return self._point("http", url, offset, t4 - t1, ClockResult.OK, "", ts)

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        return [line for p in points if p.m == "token_clock" and (line := check_line(p)) is not None]


def vn_text(result: str, offset_ms: float = 0.0) -> str:
    """The Vietnamese text of ``commune-agent check`` for a failing result code."""
    if result == ClockResult.CLOCK_WRONG:
        direction = "chậm" if offset_ms > 0 else "nhanh"
        seconds = vnformat.number(abs(offset_ms) / 1000.0, 0)
        return (f"Đồng hồ máy tính {direction} {seconds} giây so với giờ chuẩn: chữ ký số và "
                "trang web bảo mật có thể bị từ chối. Chỉnh lại ngày giờ và bật đồng bộ giờ tự động.")
    return "Không đo được độ lệch đồng hồ. Kiểm tra kết nối tới máy chủ thời gian."


def check_line(p: Point) -> CheckLine | None:
    result = str(p.f.get("result", ""))
    off = p.f.get("offset_ms")
    server = p.tg.get("server", "")
    if result == ClockResult.CLOCK_WRONG and isinstance(off, int | float):
        return CheckLine(SECTION, server, "fail", vn_text(ClockResult.CLOCK_WRONG, float(off)))
    if result != ClockResult.OK:
        return CheckLine(SECTION, server, "warn", vn_text(result))
    return None
