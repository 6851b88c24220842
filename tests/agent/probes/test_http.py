"""http probe against local HTTP(S) portals with a test CA: phases, result codes, certificates."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.probes.base import ProbeContext
from agent.probes.http import HttpConfig, HttpProbe, HttpTarget
from agent.wire import Point
from tests.support.pki import TestCA
from tests.support.portal import Portal, server_context
from tests.support.schema import conforming


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@contextlib.asynccontextmanager
async def portal(ca: TestCA | None, label: str = "good", days_after: float = 90, days_before: float = 1,
                 tls_delay_ms: int = 0) -> AsyncIterator[Portal]:
    ctx = None
    if ca is not None:
        issued = ca.issue(label, ["localhost", "127.0.0.1"], days_before=days_before, days_after=days_after)
        ctx = server_context(issued.cert, issued.key)
    p = await Portal(ssl_ctx=ctx, tls_delay_ms=tls_delay_ms).start()
    try:
        yield p
    finally:
        await p.stop()


async def run(target: HttpTarget, **cfg: object) -> Point:
    probe = HttpProbe(HttpConfig(targets=[target], **cfg), ProbeContext(agent_id="t"))  # type: ignore[arg-type]
    points = conforming(await probe.collect())
    assert len(points) == 1
    return points[0]


def url(p: Portal, path: str, tls: bool = True) -> str:
    return f"{'https' if tls else 'http'}://localhost:{p.port}{path}"


async def test_ok_phases_and_certificate(ca: TestCA) -> None:
    async with portal(ca) as p:
        pt = await run(HttpTarget(name="dvc", url=url(p, "/ok"), ca_file=str(ca.ca_file), expect="Dịch vụ công"))
    assert pt.f["result"] == "ok", pt.f
    assert pt.f["status_code"] == 200
    assert pt.f["tls_chain_valid"] == 1
    assert 85 < float(pt.f["tls_days_left"]) < 91
    assert pt.f["tls_expiring"] == 0
    for phase in ("dns_ms", "connect_ms", "tls_ms", "processing_ms", "transfer_ms"):
        assert float(pt.f[phase]) >= 0.0
    assert float(pt.f["tls_ms"]) > 0.0
    assert float(pt.f["total_ms"]) >= float(pt.f["first_byte_ms"])
    assert pt.tg == {"service": "dvc", "url": url(p, "/ok")}  # one name tag: no ``label`` copy of ``service``


async def test_plain_http_has_no_tls_time() -> None:
    async with portal(None) as p:
        pt = await run(HttpTarget(name="x", label="Cổng X", url=url(p, "/ok", tls=False)))
    assert pt.f["result"] == "ok", pt.f
    assert "tls_ms" not in pt.f  # absent, not 0: there was no TLS handshake
    assert float(pt.f["connect_ms"]) >= 0.0
    assert "label" not in pt.tg


async def test_slow_first_byte_is_measured_and_times_out(ca: TestCA) -> None:
    async with portal(ca) as p:
        pt = await run(HttpTarget(name="s", url=url(p, "/slow/300"), ca_file=str(ca.ca_file), slow_ms=250))
        assert pt.f["result"] == "ok"
        assert float(pt.f["processing_ms"]) >= 300.0  # the server waited at least that long
        assert pt.f["slow"] == 1
        pt = await run(HttpTarget(name="s", url=url(p, "/slow/6000"), ca_file=str(ca.ca_file), timeout=1.5))  # type: ignore[arg-type]
    assert pt.f["result"] == "read_timeout", pt.f


async def test_slow_tls_handshake(ca: TestCA) -> None:
    async with portal(ca, "slowtls", tls_delay_ms=2000) as p:
        pt = await run(HttpTarget(name="t", url=url(p, "/ok"), ca_file=str(ca.ca_file)))
        assert pt.f["result"] == "ok"
        assert float(pt.f["tls_ms"]) >= 2000.0
        pt = await run(HttpTarget(name="t", url=url(p, "/ok"), ca_file=str(ca.ca_file), timeout=1.0))  # type: ignore[arg-type]
    assert pt.f["result"] == "tls_timeout", pt.f


async def test_expired_certificate(ca: TestCA) -> None:
    async with portal(ca, "expired", days_before=30, days_after=-2) as p:
        pt = await run(HttpTarget(name="e", url=url(p, "/ok"), ca_file=str(ca.ca_file)))
    assert pt.f["result"] == "cert_expired", pt.f
    assert pt.f["tls_chain_valid"] == 0
    assert -3 < float(pt.f["tls_days_left"]) < -1
    lines = HttpProbe.check_lines([pt])
    assert lines[0].status == "fail"
    assert "hết hạn" in lines[0].text


async def test_soon_to_expire_certificate_warns(ca: TestCA) -> None:
    async with portal(ca, "soon", days_after=5) as p:
        pt = await run(HttpTarget(name="soon", url=url(p, "/ok"), ca_file=str(ca.ca_file)))
    assert pt.f["result"] == "ok"
    assert pt.f["tls_expiring"] == 1
    assert 4 < float(pt.f["tls_days_left"]) < 5.1
    line = HttpProbe.check_lines([pt])[0]
    assert line.status == "warn"
    assert "còn 5 ngày" in line.text


async def test_unknown_ca_is_tls_error(ca: TestCA, tmp_path: Path) -> None:
    other = TestCA(tmp_path, "Other CA")
    async with portal(other, "other") as p:
        pt = await run(HttpTarget(name="u", url=url(p, "/ok"), ca_file=str(ca.ca_file)))
    assert pt.f["result"] == "tls_error", pt.f
    assert pt.f["tls_chain_valid"] == 0


async def test_maintenance_page_with_200_is_down(ca: TestCA) -> None:
    async with portal(ca) as p:
        pt = await run(HttpTarget(name="m", url=url(p, "/maint"), ca_file=str(ca.ca_file),
                                  fail_if_matches=["(?i)b[aả]o tr[iì]"]))
    assert pt.f["status_code"] == 200
    assert pt.f["result"] == "content_mismatch", pt.f
    assert pt.f["ok"] == 0


async def test_catalogue_patterns_catch_maintenance(ca: TestCA, tmp_path: Path) -> None:
    full = HttpConfig(catalogue="phutho")
    names = [t.name for t in full.targets]
    assert {"dvc-quoc-gia", "dvc-phutho", "tthc-phutho", "qlvb-phutho", "email-phutho", "hop-truc-tuyen"} <= set(names)
    assert all(t.fail_if_matches for t in full.targets)
    shipped = next(t for t in full.targets if t.name == "dvc-phutho")
    async with portal(ca) as p:
        # a catalogue file of one's own (a path), with the shipped maintenance patterns, pointing at the local portal
        own = tmp_path / "services-local.yaml"
        own.write_text(json.dumps([
            {"name": "maint", "url": url(p, "/maint"), "ca_file": str(ca.ca_file), "fail_if_matches": shipped.fail_if_matches},
            {"name": "fine", "url": url(p, "/ok"), "ca_file": str(ca.ca_file), "fail_if_matches": shipped.fail_if_matches},
        ]))
        probe = HttpProbe(HttpConfig(catalogue=str(own)), ProbeContext(agent_id="t"))
        got = {pt.tg["service"]: pt.f["result"] for pt in conforming(await probe.collect())}
    assert got == {"maint": "content_mismatch", "fine": "ok"}


def test_catalogue_override_and_skip() -> None:
    cfg = HttpConfig(catalogue="phutho", skip=["hop-truc-tuyen"],
                     targets=[HttpTarget(name="dvc-phutho", url="https://dvc.example.test/")])
    by_name = {t.name: t for t in cfg.targets}
    assert "hop-truc-tuyen" not in by_name
    assert by_name["dvc-phutho"].url == "https://dvc.example.test/"
    assert by_name["dvc-quoc-gia"].url.startswith("https://dichvucong.gov.vn")


async def test_redirects_followed_and_limited(ca: TestCA) -> None:
    async with portal(ca) as p:
        pt = await run(HttpTarget(name="r", url=url(p, "/redirect/3"), ca_file=str(ca.ca_file)))
        assert pt.f["result"] == "ok"
        assert pt.f["redirects"] == 3
        pt = await run(HttpTarget(name="r", url=url(p, "/loop"), ca_file=str(ca.ca_file), max_redirects=4))
    assert pt.f["result"] == "too_many_redirects"


async def test_reset_and_refused_and_status() -> None:
    async with portal(None) as p:
        pt = await run(HttpTarget(name="x", url=url(p, "/reset", tls=False)))
        assert pt.f["result"] == "reset", pt.f
        pt = await run(HttpTarget(name="x", url=url(p, "/status/503", tls=False)))
        assert pt.f["result"] == "http_status"
        assert pt.f["status_code"] == 503
        port = p.port
    pt = await run(HttpTarget(name="x", url=f"http://127.0.0.1:{port}/ok"))
    assert pt.f["result"] == "connect_refused", pt.f


async def test_through_connect_proxy(ca: TestCA) -> None:
    """A real CONNECT proxy (a few lines of asyncio) in front of the portal."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n")[0])
        _host, port = head.split(b" ")[1].decode().rsplit(":", 1)
        up_r, up_w = await asyncio.open_connection("127.0.0.1", int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port = proxy.sockets[0].getsockname()[1]
    try:
        async with portal(ca) as p:
            pt = await run(HttpTarget(name="p", url=url(p, "/ok"), ca_file=str(ca.ca_file)),
                           proxy=f"http://127.0.0.1:{proxy_port}")
    finally:
        proxy.close()
    assert pt.f["result"] == "ok", pt.f
    assert seen
    assert seen[0].startswith(b"CONNECT localhost:")
