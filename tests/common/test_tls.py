"""Client TLS contexts: the system trust store read from the hashed directory on demand, verifying the same."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.tls import client_context, system_hashed_dir
from tests.support.pki import TestCA
from tests.support.portal import server_context


@pytest.fixture(autouse=True)
def _fresh_lookup(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    system_hashed_dir.cache_clear()
    yield
    system_hashed_dir.cache_clear()


@pytest.fixture
def trusted(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "trusted", "Trusted Test CA")


@pytest.fixture
def hashed_dir(tmp_path: Path, trusted: TestCA, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A hashed CA directory holding the trusted CA only, made the system one (``SSL_CERT_DIR``)."""
    d = tmp_path / "certs"
    d.mkdir()
    (d / "trusted.pem").write_bytes(trusted.ca_file.read_bytes())
    subprocess.run(["openssl", "rehash", str(d)], check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("SSL_CERT_DIR", str(d))
    return d


async def _server(ca: TestCA) -> AsyncIterator[int]:
    issued = ca.issue("localhost", ["localhost"])

    async def answer(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context(issued.cert, issued.key))
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest.fixture
async def trusted_server(trusted: TestCA) -> AsyncIterator[int]:
    async for port in _server(trusted):
        yield port


@pytest.fixture
async def other_server(tmp_path: Path) -> AsyncIterator[int]:
    async for port in _server(TestCA(tmp_path / "other", "Other Test CA")):
        yield port


async def _handshake(ctx: ssl.SSLContext, port: int) -> None:
    async with asyncio.timeout(30):
        _r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    w.close()


async def test_the_system_store_is_read_from_the_hashed_directory_when_a_handshake_needs_it(
        hashed_dir: Path, trusted_server: int, other_server: int) -> None:
    assert system_hashed_dir() == str(hashed_dir)
    ctx = client_context()
    assert ctx.cert_store_stats()["x509_ca"] == 0  # nothing loaded up front
    await _handshake(ctx, trusted_server)
    assert ctx.cert_store_stats()["x509_ca"] == 1  # the one issuer the handshake needed
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(client_context(), other_server)


async def test_hostname_is_checked_as_by_the_default_context(hashed_dir: Path, trusted_server: int) -> None:
    ctx = client_context()
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    async with asyncio.timeout(30):
        with pytest.raises(ssl.SSLCertVerificationError, match=r"IP address mismatch|doesn.t match"):
            await asyncio.open_connection("127.0.0.1", trusted_server, ssl=ctx, server_hostname="127.0.0.1")


def test_without_hash_links_or_with_ssl_cert_file_the_default_store_is_loaded(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "ca.pem").write_text("not a hash link")
    monkeypatch.setenv("SSL_CERT_DIR", str(plain))
    assert system_hashed_dir() is None
    assert client_context().cert_store_stats() == ssl.create_default_context().cert_store_stats()
    system_hashed_dir.cache_clear()
    monkeypatch.delenv("SSL_CERT_DIR")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "bundle.pem"))
    assert system_hashed_dir() is None


async def test_a_given_ca_file_is_the_only_trust(hashed_dir: Path, trusted: TestCA, tmp_path: Path,
                                                 trusted_server: int, other_server: int) -> None:
    other_ca = TestCA(tmp_path / "third", "Third Test CA")
    ctx = client_context(str(other_ca.ca_file))
    assert ctx.cert_store_stats()["x509_ca"] == 1
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(ctx, trusted_server)  # trusted by the system store, not by the given file
    await _handshake(client_context(str(trusted.ca_file)), trusted_server)


async def test_verify_false_reads_any_certificate(other_server: int) -> None:
    ctx = client_context(verify=False)
    assert not ctx.check_hostname and ctx.verify_mode == ssl.CERT_NONE
    await _handshake(ctx, other_server)
