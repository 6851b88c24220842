"""The token probe against real parts: SoftHSM2 tokens written with OpenSC's pkcs11-tool, certificates made
with ``cryptography``, a local HTTP OCSP responder / CRL server (good, slow, down), a local SNTP responder,
a local TCP port and a real process standing in for the signing plugin."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from agent.check import check_lines as agent_check_lines
from agent.check import collect_once
from agent.config import load_config, parse_config
from agent.probes.base import ProbeContext
from agent.probes.clock import ClockConfig, ClockProbe
from agent.probes.token import TokenConfig, TokenProbe
from agent.wire import Batch, Point, decode_batch, encode
from tests.support.paths import REPO
from tests.support.schema import conforming
from tests.support.softhsm import require_softhsm, softhsm_installed

PIN = "1234"

pytestmark = pytest.mark.skipif(not softhsm_installed(), reason="SoftHSM2 is not installed (apt-get install softhsm2 opensc)")
SOFTHSM = require_softhsm() if softhsm_installed() else ""


# --- a small PKI ------------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(cn: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
            ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = datetime.now(UTC)
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (_name(cn), key)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=365))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(issuer_key, hashes.SHA256()))
    return cert, key


def make_leaf(cn: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], not_before: datetime,
              not_after: datetime, ocsp_url: str = "", crl_url: str = "", signing: bool = True,
              non_repudiation_only: bool = False) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer[0].subject)
               .public_key(_key().public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=signing and not non_repudiation_only,
                                            content_commitment=signing,
                                            key_encipherment=not signing, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=False, crl_sign=False, encipher_only=False,
                                            decipher_only=False), critical=True))
    if ocsp_url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
    return builder.sign(issuer[1], hashes.SHA256())


@dataclass
class Pki:
    root: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
    sub: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
    other_root: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
    bundle: Path
    revoked: set[int] = field(default_factory=set)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = make_ca("Root CA Thử Nghiệm")
    sub = make_ca("CA Cấp Dưới Thử Nghiệm", root)
    other = make_ca("Other Root CA")
    bundle = tmp_path_factory.mktemp("pki") / "ca-bundle.pem"
    bundle.write_bytes(root[0].public_bytes(serialization.Encoding.PEM))
    return Pki(root=root, sub=sub, other_root=other, bundle=bundle)


# --- local HTTP parts: OCSP responder, CRL, Date header ---------------------------------------------


class CaServer:
    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.release = threading.Event()  # lets a "slow" handler finish at teardown
        self.requests: list[tuple[str, str, bytes]] = []
        self.date_offset_s = 0.0
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.crl = (x509.CertificateRevocationListBuilder().issuer_name(pki.sub[0].subject)
                    .last_update(datetime.now(UTC)).next_update(datetime.now(UTC) + timedelta(days=1))
                    .sign(pki.sub[1], hashes.SHA256()).public_bytes(serialization.Encoding.DER))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ocsp_answer(self, body: bytes) -> bytes:
        req = ocsp.load_der_ocsp_request(body)
        now = datetime.now(UTC)
        revoked = req.serial_number in self.pki.revoked
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=req.issuer_name_hash, issuer_key_hash=req.issuer_key_hash,
            serial_number=req.serial_number, algorithm=req.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now, next_update=now + timedelta(hours=1),
            revocation_time=now - timedelta(days=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.pki.sub[0])
        return builder.sign(self.pki.sub[1], hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes, ctype: str, date: str | None = None) -> None:
                self.send_response_only(status)
                self.send_header("Date", date or self.date_time_string())
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append((self.command, self.path, body))
                if self.path == "/ocsp/slow":
                    server.release.wait(10)
                if self.path.startswith("/ocsp"):
                    self._reply(200, server.ocsp_answer(body), "application/ocsp-response")
                else:
                    self._reply(404, b"", "text/plain")

            def do_GET(self) -> None:
                server.requests.append((self.command, self.path, b""))
                if self.path == "/crl/sub.crl":
                    self._reply(200, server.crl, "application/pkix-crl")
                elif self.path == "/time":
                    self._reply(200, b"ok", "text/plain", formatdate(time.time() + server.date_offset_s, usegmt=True))
                else:
                    self._reply(404, b"", "text/plain")

            do_HEAD = do_GET

        return Handler

    def __enter__(self) -> CaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def ca_server(pki: Pki) -> Iterator[CaServer]:
    with CaServer(pki) as srv:
        yield srv


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- SoftHSM2 tokens ----------------------------------------------------------------------------------


@dataclass
class SoftHsm:
    conf: Path
    tokendir: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    def add_token(self, label: str, certs: list[x509.Certificate]) -> str:
        """Create a token holding ``certs``; returns its serial as softhsm2-util reports it."""
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", "5678"],
                       check=True, env=self.env(), capture_output=True, timeout=30)
        for i, cert in enumerate(certs, start=1):
            der = self.tokendir.parent / f"{label}-{i}.der"
            der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
            subprocess.run(["pkcs11-tool", "--module", SOFTHSM, "--token-label", label, "--login", "--pin", PIN,
                            "--write-object", str(der), "--type", "cert", "--id", f"{i:02x}", "--label", f"cert{i}"],
                           check=True, env=self.env(), capture_output=True, timeout=30)
        out = subprocess.run(["softhsm2-util", "--show-slots"], check=True, env=self.env(), capture_output=True,
                             text=True, timeout=30).stdout
        for block in out.split("Slot ")[1:]:
            if re.search(rf"Label:\s+{re.escape(label)}\s*$", block, re.M):
                m = re.search(r"Serial number:\s+(\S+)", block)
                assert m is not None
                return m.group(1)
        raise AssertionError(f"token {label} not listed by softhsm2-util")


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    tokendir = tmp_path / "tokens"
    tokendir.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokendir}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))  # the probe's library reads it at (re)initialisation
    return SoftHsm(conf, tokendir)


def token_config(pki: Pki, **extra: Any) -> TokenConfig:
    body: dict[str, Any] = {
        "modules": [{"name": "test-ca", "path": SOFTHSM, "ca_bundle": str(pki.bundle)}],
        "endpoint_timeout": "1s",
        **extra,
    }
    cfg = parse_config({"agent": {"id": "pc-token-test"}, "probes": {"token": body}}, "test.yaml").probes["token"]
    assert isinstance(cfg, TokenConfig)
    return cfg


async def run_probe(cfg: TokenConfig | ClockConfig) -> list[Point]:
    probe: TokenProbe | ClockProbe = (ClockProbe(cfg, ProbeContext(agent_id="pc-token-test")) if isinstance(cfg, ClockConfig)
                                      else TokenProbe(cfg, ProbeContext(agent_id="pc-token-test")))
    try:
        points = conforming(await probe.collect())
    finally:
        await probe.close()
    # Every point must satisfy the wire contract (names, reserved tags, finite values).
    decode_batch(encode(Batch(v=1, agent="pc-token-test", seq=1, sent=time.time_ns(), points=points)))
    return points


def only(points: list[Point], measurement: str, **tags: str) -> Point:
    found = [p for p in points if p.m == measurement and all(p.tg.get(k) == v for k, v in tags.items())]
    assert len(found) == 1, f"expected one {measurement} {tags}, got {found}"
    return found[0]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- tests ---------------------------------------------------------------------------------------------


async def test_valid_certificate_every_field(softhsm: SoftHsm, pki: Pki, ca_server: CaServer) -> None:
    nb, na = now_utc() - timedelta(days=10), now_utc() + timedelta(days=200)
    leaf = make_leaf("Nguyễn Văn An", pki.sub, nb, na, ca_server.url("/ocsp/good"), ca_server.url("/crl/sub.crl"))
    serial = softhsm.add_token("UBND-XA-1", [leaf, pki.sub[0]])  # the intermediate CA travels on the token
    points = await run_probe(token_config(pki))

    mod = only(points, "token_module")
    assert mod.tg == {"module": "test-ca", "path": SOFTHSM}
    assert mod.f == {"loaded": 1, "slots": 2, "tokens": 1, "ca_certs": 1, "result": "ok", "ok": 1, "reason": ""}

    tok = only(points, "token")
    assert tok.tg["module"] == "test-ca"
    assert tok.tg["token"] == "UBND-XA-1"
    assert tok.tg["serial"] == serial
    assert tok.tg["reader"].startswith("SoftHSM slot ID 0x")
    assert tok.f == {"present": 1, "certificates": 1, "result": "ok", "ok": 1, "reason": ""}

    cert = only(points, "token_cert")
    assert cert.tg == {"module": "test-ca", "token": "UBND-XA-1", "subject": "Nguyễn Văn An",
                       "issuer": "CA Cấp Dưới Thử Nghiệm", "serial": format(leaf.serial_number, "x")}
    days_left = cert.f.pop("days_left")
    assert isinstance(days_left, float)
    assert 199.9 < days_left <= 200.0
    assert cert.f == {"not_before": int(nb.timestamp()), "not_after": int(na.timestamp()), "expired": 0, "can_sign": 1,
                      "key_usage": "digital_signature,content_commitment", "ocsp_url": ca_server.url("/ocsp/good"),
                      "crl_url": ca_server.url("/crl/sub.crl"), "chain_valid": 1, "result": "ok", "ok": 1, "reason": ""}

    ocsp_pt = only(points, "token_endpoint", kind="ocsp")
    assert ocsp_pt.tg == {"module": "test-ca", "kind": "ocsp", "url": ca_server.url("/ocsp/good"),
                          "serial": format(leaf.serial_number, "x")}
    for key in ("response_ms", "first_byte_ms"):
        value = ocsp_pt.f.pop(key)
        assert isinstance(value, float)
        assert value > 0
    assert ocsp_pt.f == {"status_code": 200, "ocsp_response": "successful", "cert_status": "good",
                         "result": "ok", "ok": 1, "reason": ""}
    # What left the machine: an OCSP request for this certificate's serial, nothing else.
    posted = [body for method, path, body in ca_server.requests if method == "POST" and path == "/ocsp/good"]
    assert posted
    assert ocsp.load_der_ocsp_request(posted[-1]).serial_number == leaf.serial_number

    crl_pt = only(points, "token_endpoint", kind="crl")
    assert crl_pt.tg == {"module": "test-ca", "kind": "crl", "url": ca_server.url("/crl/sub.crl")}
    assert crl_pt.f["status_code"] == 200
    assert crl_pt.f["result"] == "ok"
    assert crl_pt.f["ok"] == 1
    assert ("HEAD", "/crl/sub.crl", b"") in ca_server.requests  # HEAD by default: no CRL download
    assert len(points) == 5

    lines = TokenProbe.check_lines(points)
    assert {(ln.section, ln.status) for ln in lines} == {("Chữ ký số", "ok")}


async def test_expiring_in_five_days_and_expired(softhsm: SoftHsm, pki: Pki) -> None:
    now = now_utc()
    soon = make_leaf("Trần Thị Bình", pki.sub, now - timedelta(days=360), now + timedelta(days=5, hours=2))
    old = make_leaf("Lê Văn Cường", pki.sub, now - timedelta(days=400), now - timedelta(days=3))
    softhsm.add_token("TOKEN-2", [soon, old, pki.sub[0]])
    points = await run_probe(token_config(pki))

    assert only(points, "token").f["certificates"] == 2
    s = only(points, "token_cert", subject="Trần Thị Bình")
    assert s.f["result"] == "ok"
    assert s.f["ok"] == 1
    assert s.f["expired"] == 0
    assert s.f["chain_valid"] == 1
    assert isinstance(s.f["days_left"], float)
    assert 5.0 < s.f["days_left"] < 5.1
    e = only(points, "token_cert", subject="Lê Văn Cường")
    assert e.f["result"] == "expired"
    assert e.f["ok"] == 0
    assert e.f["expired"] == 1
    assert isinstance(e.f["days_left"], float)
    assert -3.1 < e.f["days_left"] < -2.9
    assert e.f["reason"] == f"expired on {now - timedelta(days=3):%Y-%m-%d %H:%M} UTC"
    assert "ocsp_url" in e.f
    assert e.f["ocsp_url"] == ""
    assert not [p for p in points if p.m == "token_endpoint"]

    lines = {ln.target.split(" (")[0]: ln for ln in agent_check_lines({"token": points})}
    assert lines["Trần Thị Bình"].status == "warn"
    assert "sẽ hết hạn sau 5 ngày" in lines["Trần Thị Bình"].text
    assert lines["Lê Văn Cường"].status == "fail"
    assert "đã hết hạn ngày" in lines["Lê Văn Cường"].text
    assert "gia hạn" in lines["Lê Văn Cường"].text


async def test_token_without_certificate(softhsm: SoftHsm, pki: Pki) -> None:
    serial = softhsm.add_token("EMPTY", [])
    points = await run_probe(token_config(pki))
    tok = only(points, "token")
    assert tok.tg["serial"] == serial
    assert tok.f == {"present": 1, "certificates": 0, "result": "no_certificate", "ok": 0,
                     "reason": "the token holds no user certificate"}
    assert not [p for p in points if p.m == "token_cert"]
    (line,) = TokenProbe.check_lines(points)
    assert line.status == "fail"
    assert "không có chứng thư số" in line.text


async def test_no_token_in_slot(softhsm: SoftHsm, pki: Pki) -> None:
    points = await run_probe(token_config(pki))  # SoftHSM shows one slot with a blank token: nothing to sign with
    assert only(points, "token_module").f == {"loaded": 1, "slots": 1, "tokens": 0, "ca_certs": 1,
                                              "result": "ok", "ok": 1, "reason": ""}
    tok = only(points, "token")
    assert tok.tg == {"module": "test-ca"}
    assert tok.f == {"present": 0, "certificates": 0, "result": "no_token", "ok": 0, "reason": "no token in any slot"}
    (line,) = TokenProbe.check_lines(points)
    assert line.section == "Chữ ký số"
    assert line.status == "fail"
    assert "Cắm USB token" in line.text


async def test_token_label_filter_and_token_plugged_in_later(softhsm: SoftHsm, pki: Pki) -> None:
    cfg = token_config(pki, modules=[{"name": "test-ca", "path": SOFTHSM, "token_label": "WANTED"}])
    softhsm.add_token("OTHER", [])
    points = await run_probe(cfg)
    assert only(points, "token").f["result"] == "no_token"
    leaf = make_leaf("Phạm Thị Dung", pki.sub, now_utc() - timedelta(days=1), now_utc() + timedelta(days=90))
    softhsm.add_token("WANTED", [leaf])  # "plugged in" while the agent runs: seen at the next round
    points = await run_probe(cfg)
    assert only(points, "token").tg["token"] == "WANTED"
    cert = only(points, "token_cert")
    assert cert.tg["subject"] == "Phạm Thị Dung"
    assert "chain_valid" not in cert.f


async def test_chain_invalid_and_no_signing_usage(softhsm: SoftHsm, pki: Pki) -> None:
    now = now_utc()
    foreign = make_leaf("Người Lạ", pki.other_root, now - timedelta(days=1), now + timedelta(days=100))
    enc_only = make_leaf("Mã Hoá", pki.sub, now - timedelta(days=1), now + timedelta(days=100), signing=False)
    nr_only = make_leaf("Chống Chối Bỏ", pki.sub, now - timedelta(days=1), now + timedelta(days=100),
                        non_repudiation_only=True)
    softhsm.add_token("MIXED", [foreign, enc_only, nr_only, pki.sub[0]])
    points = await run_probe(token_config(pki))
    f = only(points, "token_cert", subject="Người Lạ")
    assert f.f["chain_valid"] == 0
    assert f.f["result"] == "chain_invalid"
    assert f.f["ok"] == 0
    assert f.f["reason"] == "issuer 'Other Root CA' not found in the CA bundle"
    enc = only(points, "token_cert", subject="Mã Hoá")
    assert enc.f["can_sign"] == 0
    assert enc.f["key_usage"] == "key_encipherment"
    assert enc.f["chain_valid"] == 1
    assert enc.f["result"] == "ok"
    nr = only(points, "token_cert", subject="Chống Chối Bỏ")
    assert nr.f["can_sign"] == 1
    assert nr.f["key_usage"] == "content_commitment"
    lines = {ln.target.split(" (")[0]: ln for ln in TokenProbe.check_lines(points)}
    assert lines["Chống Chối Bỏ"].status == "ok"
    assert lines["Người Lạ"].status == "fail"
    assert lines["Mã Hoá"].status == "warn"


async def test_hash_names_hides_subject_and_label(softhsm: SoftHsm, pki: Pki) -> None:
    leaf = make_leaf("Hoàng Văn Em", pki.sub, now_utc() - timedelta(days=1), now_utc() + timedelta(days=90))
    softhsm.add_token("Hoang Van Em", [leaf])
    points = await run_probe(token_config(pki, hash_names=True, hash_salt="xa-07900"))
    cert = only(points, "token_cert")
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", cert.tg["subject"])
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", cert.tg["token"])
    assert only(points, "token").tg["token"] == cert.tg["token"]
    assert cert.tg["issuer"] == "CA Cấp Dưới Thử Nghiệm"  # the CA is not personal data
    wire = encode(Batch(v=1, agent="pc-token-test", seq=1, sent=1, points=points)).decode()
    assert "Hoàng Văn Em" not in wire
    assert "Hoang Van Em" not in wire
    other_salt = await run_probe(token_config(pki, hash_names=True, hash_salt="other"))
    assert only(other_salt, "token_cert").tg["subject"] != cert.tg["subject"]


async def test_wrong_module_path_other_probes_unaffected(tmp_path: Path, softhsm: SoftHsm, pki: Pki) -> None:
    not_a_library = tmp_path / "libvendor.so"
    not_a_library.write_bytes(b"not an ELF file\n" * 300)
    cfg_file = tmp_path / "agent.yaml"
    cfg_file.write_text(
        "agent: {id: pc-token-test}\n"
        "probes:\n"
        "  host: {}\n"
        "  token:\n"
        "    modules:\n"
        "      - {name: missing, path: /nonexistent/libca.so}\n"
        f"      - {{name: broken, path: {not_a_library}}}\n"
        f"      - {{name: bad-bundle, path: {SOFTHSM}, ca_bundle: {tmp_path / 'nope.pem'}}}\n",
        encoding="utf-8",
    )
    results, _ = await collect_once(load_config(cfg_file))
    assert any(p.m != "agent_probe" for p in results["host"])  # the other probe still reported
    assert only(results["token"], "agent_probe").f["result"] == "ok"  # failures are data, not exceptions
    missing = only(results["token"], "token_module", module="missing")
    assert missing.f == {"loaded": 0, "slots": 0, "tokens": 0, "result": "module_not_found", "ok": 0,
                         "reason": "PKCS#11 library /nonexistent/libca.so does not exist"}
    broken = only(results["token"], "token_module", module="broken")
    assert broken.f["result"] == "module_error"
    assert broken.f["loaded"] == 0
    assert "invalid ELF header" in str(broken.f["reason"]), broken.f
    bad = only(results["token"], "token_module", module="bad-bundle")
    assert bad.f["result"] == "ca_bundle_error"
    assert bad.f["loaded"] == 1
    assert "nope.pem" in str(bad.f["reason"])
    lines = [(ln.target, ln.status) for ln in TokenProbe.check_lines(results["token"])]
    assert lines == [("missing", "fail"), ("broken", "fail"), ("bad-bundle", "warn"), ("bad-bundle", "fail")]
    assert "phần mềm USB token" in TokenProbe.check_lines(results["token"])[0].text


@pytest.mark.parametrize("mode", ["slow", "down"])
async def test_ocsp_slow_or_down(softhsm: SoftHsm, pki: Pki, ca_server: CaServer, mode: str) -> None:
    url = ca_server.url("/ocsp/slow") if mode == "slow" else f"http://127.0.0.1:{free_port()}/ocsp"
    leaf = make_leaf("Vũ Thị Giang", pki.sub, now_utc() - timedelta(days=1), now_utc() + timedelta(days=90), url)
    softhsm.add_token("T-OCSP", [leaf, pki.sub[0]])
    points = await run_probe(token_config(pki, endpoint_timeout="500ms"))
    ep = only(points, "token_endpoint", kind="ocsp")
    assert ep.tg["url"] == url
    if mode == "slow":
        assert ep.f["result"] == "timeout"
        assert ep.f["reason"] == "no answer within 0.5s (during processing)"
    else:
        assert ep.f["result"] == "connect_refused"
        assert ep.f["status_code"] == 0
    assert ep.f["ok"] == 0
    assert "cert_status" not in ep.f
    assert only(points, "token_cert").f["result"] == "ok"  # the certificate itself is fine
    (line,) = [ln for ln in TokenProbe.check_lines(points) if ln.target == url]
    assert line.status == "fail"
    assert "OCSP" in line.text
    assert "Kiểm tra kết nối Internet" in line.text


async def test_revoked_certificate(softhsm: SoftHsm, pki: Pki, ca_server: CaServer) -> None:
    leaf = make_leaf("Đỗ Văn Hùng", pki.sub, now_utc() - timedelta(days=1), now_utc() + timedelta(days=90),
                     ca_server.url("/ocsp/good"))
    pki.revoked.add(leaf.serial_number)
    softhsm.add_token("T-REV", [leaf, pki.sub[0]])
    points = await run_probe(token_config(pki))
    ep = only(points, "token_endpoint", kind="ocsp")
    assert ep.f["cert_status"] == "revoked"
    assert ep.f["result"] == "revoked"
    assert ep.f["ok"] == 0
    assert any("thu hồi" in ln.text for ln in TokenProbe.check_lines(points))


# --- middleware ----------------------------------------------------------------------------------------


@pytest.fixture
def signer_process(tmp_path: Path) -> Iterator[str]:
    """A real process named like a signing plugin (a copy of sleep), stopped by PID."""
    exe = tmp_path / "fake-signer"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    proc = subprocess.Popen([str(exe), "300"])
    import psutil

    deadline = time.monotonic() + 10
    while psutil.Process(proc.pid).name() != "fake-signer":
        assert time.monotonic() < deadline, "process did not start"
        time.sleep(0.01)
    yield "fake-signer"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def plugin_port() -> Iterator[int]:
    """A local TCP port answering like a browser signing plugin."""
    srv = socket.create_server(("127.0.0.1", 0))
    port = int(srv.getsockname()[1])
    yield port
    srv.close()


async def test_middleware_process_and_port(signer_process: str, plugin_port: int) -> None:
    closed = free_port()
    cfg = parse_config({"agent": {"id": "pc-token-test"}, "probes": {"token": {"middleware": [
        {"name": "plugin-ok", "process": signer_process, "port": plugin_port},
        {"name": "plugin-exe", "process": signer_process + ".exe"},
        {"name": "plugin-stopped", "process": "no-such-signer"},
        {"name": "plugin-port-closed", "port": closed},
    ]}}}, "t.yaml").probes["token"]
    assert isinstance(cfg, TokenConfig)
    points = await run_probe(cfg)
    ok = only(points, "token_middleware", name="plugin-ok")
    assert ok.tg == {"name": "plugin-ok", "port": str(plugin_port)}
    connect_ms = ok.f.pop("connect_ms")
    assert isinstance(connect_ms, float)
    assert connect_ms >= 0
    assert ok.f == {"process_running": 1, "port_open": 1, "result": "ok", "ok": 1, "reason": ""}
    assert only(points, "token_middleware", name="plugin-exe").f["process_running"] == 1  # Windows-style name
    stopped = only(points, "token_middleware", name="plugin-stopped")
    assert stopped.f == {"process_running": 0, "result": "process_not_running", "ok": 0,
                         "reason": "process no-such-signer is not running"}
    port = only(points, "token_middleware", name="plugin-port-closed")
    assert port.f["port_open"] == 0
    assert port.f["result"] == "port_closed"
    assert "connect_ms" not in port.f
    lines = {ln.target: ln for ln in TokenProbe.check_lines(points)}
    assert lines["plugin-ok"].status == "ok"
    assert lines["plugin-stopped"].status == "fail"
    assert "không chạy" in lines["plugin-stopped"].text


# --- config, import weight --------------------------------------------------------------------------------


def test_agent_probes_import_stays_light() -> None:
    code = ("import sys, agent.probes, agent.config; "
            "heavy = [m for m in ('pkcs11', 'cryptography') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         cwd=REPO)
    assert out.stdout.strip() == ""


def test_agent_process_never_loads_pkcs11_or_cryptography(tmp_path: Path, softhsm: SoftHsm, pki: Pki) -> None:
    """A whole round of the commune PC's probes, token included, in a fresh agent process: the token's
    certificate is read (by the scan child), and the agent process has not imported pkcs11 or cryptography."""
    leaf = make_leaf("Phạm Văn Khoa", pki.sub, now_utc() - timedelta(days=1), now_utc() + timedelta(days=90))
    softhsm.add_token("T-CHILD", [leaf, pki.sub[0]])
    cfg_file = tmp_path / "agent.yaml"
    cfg_file.write_text(
        "agent: {id: pc-token-test}\n"
        "probes:\n"
        "  host: {}\n"
        f"  tcp: {{targets: [{{name: local, host: 127.0.0.1, port: {free_port()}}}]}}\n"
        f"  token: {{check_endpoints: false, modules: [{{name: test-ca, path: {SOFTHSM}, ca_bundle: {pki.bundle}}}]}}\n",
        encoding="utf-8")
    code = ("import asyncio, sys; from agent.check import collect_once; from agent.config import load_config; "
            f"results, _ = asyncio.run(collect_once(load_config({str(cfg_file)!r}))); "
            "print(sorted(p.f['result'] for p in results['token'] if p.m != 'agent_probe')); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pkcs11', 'cryptography')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd=REPO)
    results, heavy = out.stdout.strip().splitlines()
    assert results == "['ok', 'ok', 'ok']", out  # token_module, token, token_cert
    assert heavy == "[]", out
