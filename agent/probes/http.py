"""http: service-portal checks with per-phase timing (blackbox_exporter's http prober as the bar).

Measurement ``http`` (tags ``service`` = configured name, ``url``):
status_code, dns_ms, connect_ms, tls_ms, processing_ms (request sent -> first byte),
transfer_ms, first_byte_ms (start -> first byte, like curl's time_starttransfer), total_ms,
body_bytes, redirects, tls_days_left (float, days), tls_chain_valid (1/0), tls_expiring (1/0: fewer
than ``cert_warn_days`` left), slow (1/0: total above ``slow_ms``), plus result/ok/reason.

Targets come from ``targets`` and, with ``catalogue: phutho`` (or a path to a YAML file), from a
shipped service catalogue (agent/defaults/services-<name>.yaml); a target with the same name
overrides a catalogue entry and ``skip`` removes entries.

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
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final

import msgspec

from agent.net.httptiming import RequestSpec, Response, TimedHTTP
from agent.probes.base import CheckLine, Probe, ProbeConfig, ProbeFailure, parse_result, result_fields
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import RESULT_FIELDS, MeasurementSpec, float_field, int_field, measurement
from common import vnformat
from common.tls import client_context

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


class HttpResult(StrEnum):
    OK = "ok"
    DNS_ERROR = "dns_error"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_ERROR = "connect_error"
    CONNECT_TIMEOUT = "connect_timeout"
    TLS_ERROR = "tls_error"
    CERT_EXPIRED = "cert_expired"
    TLS_TIMEOUT = "tls_timeout"
    READ_TIMEOUT = "read_timeout"
    RESET = "reset"
    BAD_RESPONSE = "bad_response"
    HTTP_STATUS = "http_status"
    CONTENT_MISMATCH = "content_mismatch"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    PROXY_ERROR = "proxy_error"
    BAD_URL = "bad_url"

class HttpTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    label: str = ""
    """Human name shown in ``commune-agent check`` (Vietnamese), default: ``name``."""
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
    retry_interval: Duration | None = Duration(10)
    """A failed check is repeated 10 s and 20 s later (``rechecks``: 2): PortalDown (for 20s) fires after three
    failed checks in a row, not after minutes, and a single blip is not an alert."""
    timeout: Duration = Duration(15)
    targets: list[HttpTarget] = msgspec.field(default_factory=list)
    proxy: str = ""
    """Default proxy for every target (http://host:port)."""
    max_body_bytes: Annotated[int, msgspec.Meta(ge=0)] = 256 * 1024
    catalogue: str = ""
    """A shipped catalogue name (``phutho``) or a YAML file of targets; merged before ``targets``."""
    skip: list[str] = msgspec.field(default_factory=list)
    """Catalogue services to leave out, by name."""
    cert_warn_days: Annotated[float, msgspec.Meta(ge=0)] = 14.0
    request_timeout: Duration = Duration(10)
    """Per-request limit (redirects included); keep it below the probe's ``timeout``."""

    def __post_init__(self) -> None:
        if not self.catalogue:
            return
        merged = {t.name: t for t in load_catalogue(self.catalogue) if t.name not in self.skip}
        for t in self.targets:
            merged[t.name] = t
        self.targets = list(merged.values())


CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "defaults"


def load_catalogue(name: str) -> list[HttpTarget]:
    """``phutho`` -> agent/defaults/services-phutho.yaml; anything with a '/' or '.yaml' is a path."""
    import yaml

    from agent.units import dec_hook

    path: Path | Traversable = Path(name)
    if not ("/" in name or name.endswith((".yaml", ".yml"))):  # shipped
        path = CATALOGUE_DIR / f"services-{name}.yaml"
        if not path.is_file():  # package data in a zipapp (importlib.resources: not loaded otherwise)
            from importlib import resources

            path = resources.files("agent").joinpath("defaults", f"services-{name}.yaml")
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"catalogue {name!r}: cannot read {path}: {exc}") from None
    try:
        return msgspec.convert(data, list[HttpTarget], dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        raise ValueError(f"catalogue {path}: {exc}") from None


def _compile(target: HttpTarget) -> tuple[re.Pattern[str] | None, list[re.Pattern[str]]]:
    expect = re.compile(target.expect) if target.expect else None
    return expect, [re.compile(p, re.IGNORECASE) for p in target.fail_if_matches]


MEASUREMENTS: Final = (
    measurement("http", "http", {"service": "configured name", "url": "URL (first 256 characters)"}, {
        "status_code": int_field("", "HTTP status of the last hop"),
        "dns_ms": float_field("ms"), "connect_ms": float_field("ms"), "tls_ms": float_field("ms", "absent for plain HTTP"),
        "processing_ms": float_field("ms", "request sent -> first byte"),
        "transfer_ms": float_field("ms", "first byte -> body read"),
        "first_byte_ms": float_field("ms", "start -> first byte (curl's time_starttransfer)"),
        "total_ms": float_field("ms"),
        "body_bytes": int_field("bytes"),
        "redirects": int_field("count"),
        "tls_days_left": float_field("days", "negative when expired"),
        "tls_chain_valid": int_field("1/0"),
        "tls_expiring": int_field("1/0", "1 when fewer than cert_warn_days left"),
        "slow": int_field("1/0", "1 when total_ms > slow_ms (only if slow_ms is set)"),
        **RESULT_FIELDS,
    }),
)


class HttpProbe(Probe[HttpConfig]):
    name: ClassVar[str] = "http"
    results: ClassVar[type[StrEnum] | None] = HttpResult
    Config: ClassVar[type[ProbeConfig]] = HttpConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    def __init__(self, config: HttpConfig, ctx: object) -> None:
        super().__init__(config, ctx)  # type: ignore[arg-type]
        self._client = TimedHTTP()
        self._patterns = {t.name: _compile(t) for t in config.targets}
        # one context per distinct TLS setting, not per target: each loads the CA store (~1 MiB resident)
        shared: dict[tuple[str, bool], ssl.SSLContext] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}
        for t in config.targets:
            key = (t.ca_file, t.insecure_skip_verify)
            if key not in shared:
                shared[key] = self._ssl_context(t)
            self._contexts[t.name] = shared[key]

    @staticmethod
    def _ssl_context(target: HttpTarget) -> ssl.SSLContext:
        return client_context(target.ca_file or None, verify=not target.insecure_skip_verify)

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
        timeout = target.timeout or self.config.request_timeout
        code: HttpResult = HttpResult.OK
        reason = ""
        try:
            async with asyncio.timeout(timeout):
                await self._client.request(spec, resp)
            code, reason = self._judge(target, resp)
        except ProbeFailure as exc:
            code, reason = HttpResult(exc.code), exc.reason
        except TimeoutError:
            phase = resp.phase
            code = {"dns": HttpResult.DNS_ERROR, "connect": HttpResult.CONNECT_TIMEOUT,
                    "tls": HttpResult.TLS_TIMEOUT}.get(phase, HttpResult.READ_TIMEOUT)
            reason = f"no answer within {timeout:g}s during {phase}"
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            code = HttpResult.BAD_RESPONSE if isinstance(exc, ValueError) else HttpResult.RESET
            reason = f"{type(exc).__name__}: {exc}"
        tags = {"service": target.name, "url": target.url[:256]}
        return self.point("http", self._fields(target, resp, code, reason), tags, ts)

    def _judge(self, target: HttpTarget, resp: Response) -> tuple[HttpResult, str]:
        if resp.status not in target.valid_status:
            return HttpResult.HTTP_STATUS, f"HTTP {resp.status} from {resp.url}"
        expect, fail_patterns = self._patterns[target.name]
        text = resp.body.decode("utf-8", errors="replace")
        for pattern in fail_patterns:
            if pattern.search(text):
                return HttpResult.CONTENT_MISMATCH, f"page matches {pattern.pattern!r} (maintenance or error page)"
        if expect is not None and not expect.search(text):
            return HttpResult.CONTENT_MISMATCH, f"expected text {expect.pattern!r} not found"
        return HttpResult.OK, ""

    def _fields(self, target: HttpTarget, resp: Response, code: str, reason: str) -> dict[str, float | int | str | bool | None]:
        ph = resp.phases_ms
        fields: dict[str, float | int | str | bool | None] = {
            "status_code": resp.status,
            "dns_ms": ph["dns"], "connect_ms": ph["connect"], "tls_ms": ph["tls"] if resp.tls_used else None,
            "processing_ms": ph["processing"], "transfer_ms": ph["transfer"],
            "first_byte_ms": ph["dns"] + ph["connect"] + ph["tls"] + ph["processing"],
            "total_ms": resp.total_ms, "body_bytes": len(resp.body), "redirects": resp.redirects,
            **result_fields(code, reason),
        }
        if resp.cert is not None:
            days_left = (resp.cert.not_after - time.time()) / 86400.0
            fields["tls_days_left"] = days_left
            fields["tls_chain_valid"] = 1 if resp.cert.verified else 0
            fields["tls_expiring"] = 1 if days_left < self.config.cert_warn_days else 0
        if target.slow_ms is not None:
            fields["slow"] = 1 if resp.total_ms > target.slow_ms else 0
        return fields

    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        out = []
        for p in points:
            if p.m != "http":
                continue
            label = p.tg.get("service", "")
            seconds = vnformat.with_unit(float(p.f.get("total_ms", 0.0)) / 1000, "giây")
            if p.f.get("ok") != 1:
                known = parse_result(HttpResult, p.f.get("result"))
                text = TEXTS.get(known, "Không truy cập được.") if known else "Không truy cập được."
                out.append(CheckLine("Cổng dịch vụ", label, "fail", text))
            elif p.f.get("slow") == 1:
                out.append(CheckLine("Cổng dịch vụ", label, "warn", f"Truy cập được nhưng chậm: {seconds}."))
            elif p.f.get("tls_expiring") == 1:
                days = vnformat.number(float(p.f.get("tls_days_left", 0.0)), 0)
                out.append(CheckLine("Cổng dịch vụ", label, "warn",
                                     f"Chứng chỉ bảo mật của cổng còn {days} ngày là hết hạn: báo cho đơn vị quản lý cổng."))
            else:
                out.append(CheckLine("Cổng dịch vụ", label, "ok", f"Truy cập được trong {seconds}."))
        return out


TEXTS = {
    HttpResult.DNS_ERROR: "Không tìm được địa chỉ của cổng theo tên miền (lỗi DNS).",
    HttpResult.CONNECT_REFUSED: "Máy chủ của cổng từ chối kết nối: dịch vụ có thể đang tắt.",
    HttpResult.CONNECT_ERROR: "Không kết nối được tới máy chủ của cổng.",
    HttpResult.CONNECT_TIMEOUT: "Máy chủ của cổng không trả lời khi kết nối.",
    HttpResult.TLS_ERROR: "Lỗi kết nối bảo mật: chứng chỉ của cổng không hợp lệ.",
    HttpResult.CERT_EXPIRED: "Chứng chỉ bảo mật của cổng đã hết hạn.",
    HttpResult.TLS_TIMEOUT: "Cổng không hoàn tất kết nối bảo mật kịp thời.",
    HttpResult.READ_TIMEOUT: "Cổng không trả lời kịp thời.",
    HttpResult.RESET: "Kết nối bị ngắt giữa chừng.",
    HttpResult.HTTP_STATUS: "Cổng báo lỗi khi mở trang.",
    HttpResult.CONTENT_MISMATCH: "Cổng đang bảo trì hoặc hiện trang báo lỗi.",
    HttpResult.TOO_MANY_REDIRECTS: "Cổng chuyển trang quá nhiều lần, không mở được.",
    HttpResult.PROXY_ERROR: "Lỗi máy chủ trung gian (proxy) của mạng xã.",
    HttpResult.BAD_RESPONSE: "Cổng trả lời không đúng cách.",
    HttpResult.BAD_URL: "Địa chỉ trang web của cổng trong cấu hình bị sai.",
}
