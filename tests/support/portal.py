"""A small HTTP(S) "portal" with misbehaviours chosen by path, for the http probe's tests.

Paths: /ok (200, portal text), /maint (200 with a maintenance page), /slow/<ms> (first byte after <ms>),
/redirect/<n> (n redirects then /ok), /loop (redirects to itself), /reset (TCP RST, no answer),
/status/<code>, /ip (the client's address as plain text, an echo service).
``tls_delay_ms`` delays the TLS handshake (a slow TLS terminator). Runnable as a script inside a
network namespace: ``python -m tests.support.portal --bind ADDR --port P [--cert C --key K] --ready FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import ssl
import struct
from pathlib import Path

OK_PAGE = "<html><body><h1>Cổng Dịch vụ công</h1><p>Chào mừng</p></body></html>".encode()
MAINT_PAGE = "<html><body><h1>Hệ thống đang bảo trì</h1><p>Xin quay lại sau</p></body></html>".encode()


class Portal:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, ssl_ctx: ssl.SSLContext | None = None,
                 tls_delay_ms: int = 0) -> None:
        self.host, self.port, self.ssl_ctx, self.tls_delay_ms = host, port, ssl_ctx, tls_delay_ms
        self.servers: list[asyncio.Server] = []

    async def start(self) -> Portal:
        if self.tls_delay_ms:
            # A slow TLS terminator: a front that holds the client's bytes (its ClientHello) for a while
            # before passing them on to the real TLS server.
            inner = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_ctx)
            self.servers.append(inner)
            inner_port = inner.sockets[0].getsockname()[1]

            async def front(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await asyncio.sleep(self.tls_delay_ms / 1000)
                up_r, up_w = await asyncio.open_connection("127.0.0.1", inner_port)
                await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))

            server = await asyncio.start_server(front, self.host, self.port)
        else:
            server = await asyncio.start_server(self._handle, self.host, self.port, ssl=self.ssl_ctx)
        self.servers.append(server)
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            await self._answer(path, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, path: str, writer: asyncio.StreamWriter) -> None:
        parts = [p for p in path.split("?")[0].split("/") if p]
        status, body, extra = 200, OK_PAGE, ""
        if parts[:1] == ["maint"]:
            body = MAINT_PAGE
        elif parts[:1] == ["slow"]:
            await asyncio.sleep(int(parts[1]) / 1000)
        elif parts[:1] == ["redirect"]:
            n = int(parts[1])
            status, body, extra = 302, b"", f"Location: {'/redirect/' + str(n - 1) if n > 1 else '/ok'}\r\n"
        elif parts[:1] == ["loop"]:
            status, body, extra = 302, b"", "Location: /loop\r\n"
        elif parts[:1] == ["status"]:
            status, body = int(parts[1]), b"error"
        elif parts[:1] == ["ip"]:
            body = str(writer.get_extra_info("peername")[0]).encode()
        elif parts[:1] == ["reset"]:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: text/html; charset=utf-8\r\n"
                     f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode() + body)
        await writer.drain()


async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    w.close()


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


async def _main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", type=Path)
    ap.add_argument("--key", type=Path)
    ap.add_argument("--ready", type=Path, required=True)
    a = ap.parse_args()
    ctx = server_context(a.cert, a.key) if a.cert else None
    await Portal(a.bind, a.port, ctx).start()
    a.ready.write_text("ready")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
