"""A small HTTP/1.1 client that times each phase of a request, for probing (not a general client).

Phases (milliseconds, summed over redirect hops like blackbox_exporter): dns, connect, tls,
processing (request sent -> first response byte), transfer (first byte -> body read), and total.
Built on asyncio streams so each phase is measured where it happens, with no client library overhead.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from agent.probes.base import ProbeFailure
from common.tls import client_context

PHASES = ("dns", "connect", "tls", "processing", "transfer")



@dataclass
class CertInfo:
    not_after: float  # unix seconds
    subject: str
    issuer: str
    verified: bool
    verify_error: str = ""


@dataclass
class Response:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    url: str = ""
    http_version: str = ""
    redirects: int = 0
    phases_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    total_ms: float = 0.0
    cert: CertInfo | None = None
    remote_addr: str = ""
    phase: str = "dns"  # the phase in progress (kept up to date so a timeout can name it)
    body_truncated: bool = False
    tls_used: bool = False  # a TLS handshake was attempted (https, on any hop of the redirects)


@dataclass
class RequestSpec:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    follow_redirects: bool = True
    max_redirects: int = 5
    max_body_bytes: int = 1024 * 1024
    ssl_context: ssl.SSLContext | None = None
    proxy: str = ""  # http://[user:pass@]host:port
    family: int = 0


def _cert_from_der(der: bytes) -> tuple[float, str, str]:
    from cryptography import x509  # lazy: only needed when verification failed

    cert = x509.load_der_x509_certificate(der)
    return cert.not_valid_after_utc.timestamp(), cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()


def _name(parts: object) -> str:
    try:
        return ",".join(f"{k}={v}" for rdn in parts for k, v in rdn)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return ""


async def _fetch_unverified_cert(host: str, port: int, addr: str, server_hostname: str, limit_s: float) -> bytes | None:
    ctx = client_context(verify=False)
    try:
        async with asyncio.timeout(limit_s):
            _reader, writer = await asyncio.open_connection(addr, port, ssl=ctx, server_hostname=server_hostname)
    except (OSError, TimeoutError, ssl.SSLError):
        return None
    try:
        ssl_obj = writer.get_extra_info("ssl_object")
        return ssl_obj.getpeercert(binary_form=True) if ssl_obj else None
    finally:
        writer.close()


class TimedHTTP:
    """Runs one request (and its redirects) and fills a Response, raising ProbeFailure on failure."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock

    async def request(self, spec: RequestSpec, resp: Response) -> Response:
        start = self.clock()
        url = spec.url
        method, body = spec.method, spec.body
        try:
            while True:
                resp.url = url
                await self._one(spec, url, method, body, resp)
                location = resp.headers.get("location")
                if spec.follow_redirects and resp.status in (301, 302, 303, 307, 308) and location:
                    if resp.redirects >= spec.max_redirects:
                        raise ProbeFailure("too_many_redirects", f"more than {spec.max_redirects} redirects")
                    resp.redirects += 1
                    url = urljoin(url, location)
                    if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                        method, body = "GET", b""
                    continue
                return resp
        finally:
            resp.total_ms = (self.clock() - start) * 1000.0

    async def _one(self, spec: RequestSpec, url: str, method: str, body: bytes, resp: Response) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeFailure("bad_url", f"unsupported URL {url!r}")
        tls = parts.scheme == "https"
        host = parts.hostname
        port = parts.port or (443 if tls else 80)
        clock, ph = self.clock, resp.phases_ms

        proxy = urlsplit(spec.proxy) if spec.proxy else None
        conn_host, conn_port = (proxy.hostname or "", proxy.port or 3128) if proxy else (host, port)

        # DNS
        resp.phase = "dns"
        t0 = clock()
        loop = asyncio.get_running_loop()
        try:
            addr = str(ipaddress.ip_address(conn_host))  # an address literal needs no lookup (as in curl)
        except ValueError:
            try:
                infos = await loop.getaddrinfo(conn_host, conn_port, family=spec.family, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise ProbeFailure("dns_error", f"cannot resolve {conn_host}: {exc.strerror or exc}") from None
            addr = str(infos[0][4][0])
        ph["dns"] += (clock() - t0) * 1000.0
        resp.remote_addr = addr

        # TCP connect
        resp.phase = "connect"
        t0 = clock()
        try:
            reader, writer = await asyncio.open_connection(addr, conn_port)
        except ConnectionRefusedError:
            raise ProbeFailure("connect_refused", f"connection to {addr}:{conn_port} refused") from None
        except OSError as exc:
            raise ProbeFailure("connect_error", f"cannot connect to {addr}:{conn_port}: {exc.strerror or exc}") from None
        ph["connect"] += (clock() - t0) * 1000.0
        try:
            if proxy and tls:
                await self._proxy_connect(reader, writer, host, port, proxy.username, proxy.password)
            if tls:
                resp.phase = "tls"
                resp.tls_used = True
                ctx = spec.ssl_context or client_context()
                t0 = clock()
                try:
                    await writer.start_tls(ctx, server_hostname=host)
                except ssl.SSLCertVerificationError as exc:
                    ph["tls"] += (clock() - t0) * 1000.0
                    der = await _fetch_unverified_cert(host, conn_port, addr, host, 5.0) if not proxy else None
                    if der is not None:
                        not_after, subject, issuer = _cert_from_der(der)
                        resp.cert = CertInfo(not_after, subject, issuer, False, exc.verify_message or str(exc))
                    code = "cert_expired" if exc.verify_code == 10 else "tls_error"
                    raise ProbeFailure(code, f"TLS certificate not valid: {exc.verify_message or exc}") from None
                except (ssl.SSLError, OSError) as exc:
                    raise ProbeFailure("tls_error", f"TLS handshake failed: {exc}") from None
                ph["tls"] += (clock() - t0) * 1000.0
                ssl_obj = writer.get_extra_info("ssl_object")
                peer = ssl_obj.getpeercert() if ssl_obj else None
                if peer and "notAfter" in peer:
                    resp.cert = CertInfo(
                        ssl.cert_time_to_seconds(str(peer["notAfter"])), _name(peer.get("subject", ())),
                        _name(peer.get("issuer", ())), True,
                    )
            target = url if (proxy and not tls) else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "commune-monitor/0.1",
                       "Accept": "*/*", "Connection": "close", **spec.headers}
            if body:
                headers["Content-Length"] = str(len(body))
            if proxy and not tls and proxy.username:
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(
                    f"{proxy.username}:{proxy.password or ''}".encode()).decode()
            head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            resp.phase = "processing"
            t0 = clock()
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
            try:
                status_line = await reader.readuntil(b"\r\n")
            except asyncio.IncompleteReadError:
                raise ProbeFailure("reset", "connection closed before any response") from None
            ph["processing"] += (clock() - t0) * 1000.0
            resp.phase = "transfer"
            t0 = clock()
            await self._read_response(reader, status_line, method, spec.max_body_bytes, resp)
            ph["transfer"] += (clock() - t0) * 1000.0
        except ConnectionResetError:
            raise ProbeFailure("reset", f"connection reset by peer during {resp.phase}") from None
        finally:
            writer.close()

    async def _proxy_connect(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int,
        user: str | None, password: str | None,
    ) -> None:
        auth = ""
        if user:
            auth = "Proxy-Authorization: Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode() + "\r\n"
        writer.write(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
        await writer.drain()
        try:
            line = await reader.readuntil(b"\r\n")
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
        except asyncio.IncompleteReadError:
            raise ProbeFailure("proxy_error", "proxy closed the connection") from None
        fields = line.decode("latin-1").split(" ", 2)
        if len(fields) < 2 or fields[1] != "200":
            raise ProbeFailure("proxy_error", f"proxy refused CONNECT: {line.decode('latin-1').strip()}")

    async def _read_response(
        self, reader: asyncio.StreamReader, status_line: bytes, method: str, limit: int, resp: Response,
    ) -> None:
        parts = status_line.decode("latin-1").strip().split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProbeFailure("bad_response", f"not an HTTP status line: {status_line[:80]!r}")
        resp.http_version, resp.status = parts[0], int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        resp.headers = headers
        if method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
            resp.body = b""
            return
        chunks: list[bytes] = []
        size = 0
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size_line = await reader.readuntil(b"\r\n")
                n = int(size_line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    break
                data = await reader.readexactly(n + 2)
                if size < limit:
                    chunks.append(data[:-2])
                size += n
        elif "content-length" in headers:
            remaining = int(headers["content-length"])
            while remaining > 0:
                data = await reader.read(min(65536, remaining))
                if not data:
                    raise ProbeFailure("reset", "connection closed before the body was complete")
                remaining -= len(data)
                if size < limit:
                    chunks.append(data)
                size += len(data)
        else:
            while data := await reader.read(65536):
                if size < limit:
                    chunks.append(data)
                size += len(data)
        body = b"".join(chunks)
        resp.body_truncated = len(body) > limit or size > limit
        resp.body = body[:limit]
