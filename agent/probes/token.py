"""token: digital-signature USB tokens (PKCS#11), their certificates, the signing middleware, the CA's
OCSP/CRL endpoints and the clock — everything that must work for a commune officer to sign a document.

Reads only public objects: no PIN, no login, no private key is ever touched. The only data that leaves
the machine is the metadata below; ``hash_names: true`` replaces subject names and token labels by a
salted hash. OCSP requests carry only the certificate's serial and its issuer's hashes.

Measurements (tag ``module`` = configured module name everywhere):

- ``token_module`` (tags module, path): loaded (1/0), slots, tokens (present and initialised),
  ca_certs (certificates in the CA bundle), plus result/ok/reason.
  Result codes: ok; module_not_found (no file at path); module_error (the library failed to load or
  answer); module_timeout; module_busy (the previous round is still stuck in the library);
  ca_bundle_error (the configured CA bundle cannot be read).
- ``token`` (tags module, token = label, serial, reader = slot description): present (1/0),
  certificates (end-entity certificates on the token), plus result/ok/reason. When no token is
  present the module gets one point with present=0 and only the ``module`` tag.
  Result codes: ok; no_token; no_certificate.
- ``token_cert`` (tags module, token, subject = common name, issuer = issuer common name, serial = hex):
  not_before, not_after (unix seconds, int), days_left (float, negative when expired), expired (1/0),
  can_sign (1/0: key usage allows digitalSignature or nonRepudiation), chain_valid (1/0, only when a
  CA bundle is configured), key_usage (text), ocsp_url, crl_url (text, first of each), plus
  result/ok/reason. Result codes: ok; expired; not_yet_valid; chain_invalid; bad_certificate.
- ``token_endpoint`` (tags module, kind = ocsp|crl, url, and serial for ocsp): response_ms,
  first_byte_ms (float), status_code (int), ocsp_response (text: successful, unauthorized, ...),
  cert_status (text: good, revoked, unknown), plus result/ok/reason. Result codes: ok; revoked;
  ocsp_error (the responder answered but not "successful"); bad_response; http_status; timeout;
  dns_error; connect_refused; connect_error; reset.
- ``token_middleware`` (tags name, and port when configured): process_running (1/0, when a process
  is configured), port_open (1/0, when a port is configured), connect_ms, plus result/ok/reason.
  Result codes: ok; process_not_running; port_closed; port_timeout.
- ``token_clock`` (tags source = ntp|http, server): offset_ms (reference minus this machine: positive
  means this clock is behind), rtt_ms, plus result/ok/reason. Result codes: ok; clock_wrong
  (|offset| above ``clock.max_offset``); timeout; dns_error; connect_error; connect_refused;
  bad_response; kiss_of_death; no_date (HTTP answer without a Date header).

On Windows, when no module is configured, certificates of the current user's personal store ("MY")
are reported as ``token_cert`` points with module=windows-store (untested here: no Windows in CI).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec

from agent.net import sntp
from agent.net.httptiming import RequestSpec, Response, TimedHTTP
from agent.probes.base import RESULT_OK, CheckLine, Probe, ProbeConfig, ProbeFailure, result_fields
from agent.units import Duration
from agent.wire import FieldValue, Point

if TYPE_CHECKING:
    from cryptography import x509

SECTION = "Chữ ký số"
WARN_DAYS = 30.0
"""``commune-agent check`` warns about certificates expiring within this many days."""
VN_TZ = timezone(timedelta(hours=7))
MAX_TAG = 256

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class TokenModule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    """Short name of the CA / vendor, e.g. viettel-ca, vnpt-ca (the ``module`` tag)."""
    path: Annotated[str, msgspec.Meta(min_length=1)]
    """The vendor's PKCS#11 library (.so / .dll)."""
    ca_bundle: str = ""
    """PEM file of the CA certificates to validate the token's certificates against (empty: no check)."""
    token_label: str = ""
    """Only tokens with this label (empty: every token the module shows)."""


class Middleware(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    process: str = ""
    """Process name that must be running (case-insensitive, e.g. ``VnptCaPlugin.exe``)."""
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    """Local TCP port the signing plugin listens on (browser plugins listen on localhost)."""
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if not self.process and self.port is None:
            raise ValueError("set process, port or both")


class ClockConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    ntp_server: str = ""
    """host or host:port of an NTP server (SNTP query)."""
    http_url: str = ""
    """URL whose HTTP Date header serves as reference (1 s resolution), e.g. the collector's."""
    max_offset: Duration = Duration(60)
    timeout: Duration = Duration(5)

    def __post_init__(self) -> None:
        if not self.ntp_server and not self.http_url:
            raise ValueError("set ntp_server, http_url or both")
        if self.http_url and not self.http_url.startswith(("http://", "https://")):
            raise ValueError(f"http_url must start with http:// or https://, got {self.http_url!r}")


class TokenConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(300)
    timeout: Duration = Duration(60)
    modules: list[TokenModule] = msgspec.field(default_factory=list)
    middleware: list[Middleware] = msgspec.field(default_factory=list)
    clock: ClockConfig | None = None
    module_timeout: Duration = Duration(15)
    """Longest time one PKCS#11 library may take to list its tokens and certificates."""
    check_endpoints: bool = True
    """Check the OCSP/CRL endpoints named in each certificate."""
    endpoint_timeout: Duration = Duration(10)
    crl_method: Literal["HEAD", "GET"] = "HEAD"
    """HEAD avoids downloading a large CRL over a slow commune link."""
    hash_names: bool = False
    """Report subject names and token labels only as a salted hash (personal data)."""
    hash_salt: str = ""
    windows_store: bool = True
    """On Windows with no module configured, read the personal certificate store instead."""


# --- PKCS#11 (runs in a worker thread: the vendor library blocks) ----------------------------------


@dataclass
class TokenScan:
    label: str
    serial: str
    reader: str
    slot_id: int
    certs: list[bytes] = field(default_factory=list)


@dataclass
class ModuleScan:
    slots: int = 0
    tokens: list[TokenScan] = field(default_factory=list)


_locks: dict[str, threading.Lock] = {}
_initialised: set[str] = set()
_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable()).strip()


def scan_module(path: str, token_label: str = "") -> ModuleScan:
    """List slots, tokens and certificate objects through a PKCS#11 library, without logging in.

    The library is re-initialised on every call after the first so tokens plugged in since are seen
    (many vendor libraries enumerate readers only in C_Initialize).
    """
    import pkcs11  # heavy and native: only when the probe runs
    from pkcs11 import Attribute, CertificateType, ObjectClass, TokenFlag

    lib = pkcs11.lib(path)
    if path in _initialised:
        lib.reinitialize()
    _initialised.add(path)
    slots = lib.get_slots(token_present=True)
    scan = ModuleScan(slots=len(lib.get_slots()))
    for slot in slots:
        token = slot.get_token()
        if not token.flags & TokenFlag.TOKEN_INITIALIZED:
            continue  # an empty slot of a soft token, or a blank token: nothing to sign with
        label = _clean(token.label)
        if token_label and label != token_label:
            continue
        serial = _clean(token.serial.decode("ascii", errors="replace"))
        found = TokenScan(label=label, serial=serial, reader=_clean(slot.slot_description), slot_id=int(slot.slot_id))
        with token.open() as session:  # public session: no PIN
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                try:
                    if obj[Attribute.CERTIFICATE_TYPE] != CertificateType.X_509:
                        continue
                    found.certs.append(bytes(obj[Attribute.VALUE]))
                except (pkcs11.PKCS11Error, KeyError):
                    continue
        scan.tokens.append(found)
    return scan


def _scan_locked(path: str, token_label: str) -> ModuleScan | None:
    lock = _lock_for(path)
    if not lock.acquire(blocking=False):
        return None
    try:
        return scan_module(path, token_label)
    finally:
        lock.release()


def windows_store_certs() -> list[bytes]:  # pragma: no cover - Windows only, untested here
    """DER certificates of the current user's personal store (Windows only)."""
    if sys.platform != "win32":
        return []
    import ssl

    enum = getattr(ssl, "enum_certificates", None)
    if enum is None:
        return []
    return [bytes(der) for der, encoding, _trust in enum("MY") if encoding == "x509_asn"]


# --- certificates ----------------------------------------------------------------------------------


def load_pem_bundle(path: str) -> list[x509.Certificate]:
    from cryptography import x509

    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificates(fh.read())


def common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if attrs:
        value = attrs[0].value
        return _clean(value if isinstance(value, str) else value.decode("utf-8", errors="replace"))
    return _clean(name.rfc4514_string())


def _is_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def key_usage(cert: x509.Certificate) -> tuple[list[str], bool]:
    """(names of the key usages, signing allowed). No KeyUsage extension means unrestricted."""
    from cryptography import x509

    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return [], True
    names = [n for n in ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                         "key_agreement", "key_cert_sign", "crl_sign") if getattr(ku, n)]
    return names, ku.digital_signature or ku.content_commitment


def urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(OCSP URLs from Authority Information Access, CRL URLs from CRL Distribution Points)."""
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    ocsp: list[str] = []
    crl: list[str] = []
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ocsp = [str(d.access_location.value) for d in aia
                if d.access_method == AuthorityInformationAccessOID.OCSP
                and isinstance(d.access_location, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        crl = [str(n.value) for dp in cdp for n in (dp.full_name or []) if isinstance(n, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    http = ("http://", "https://")
    return [u for u in ocsp if u.lower().startswith(http)], [u for u in crl if u.lower().startswith(http)]


def find_issuer(cert: x509.Certificate, candidates: list[x509.Certificate]) -> x509.Certificate | None:
    for cand in candidates:
        if cand.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(cand)
        except Exception:  # InvalidSignature, unsupported key type, ...
            continue
        return cand
    return None


def verify_chain(
    cert: x509.Certificate, anchors: list[x509.Certificate], intermediates: list[x509.Certificate], now: datetime,
) -> tuple[bool, str]:
    """Is ``cert`` issued, through valid CA certificates, by one of ``anchors``?

    Checks signatures, that each issuer is a CA and is within its validity period. The end-entity
    certificate's own validity is reported separately (expired / not_yet_valid).
    """
    current = cert
    for _depth in range(8):
        issuer = find_issuer(current, anchors)
        if issuer is not None:
            return _ca_usable(issuer, now)
        issuer = find_issuer(current, [c for c in intermediates if c != current])
        if issuer is None:
            return False, f"issuer {common_name(current.issuer)!r} not found in the CA bundle"
        ok, why = _ca_usable(issuer, now)
        if not ok:
            return ok, why
        current = issuer
    return False, "chain longer than 8 certificates"


def _ca_usable(ca: x509.Certificate, now: datetime) -> tuple[bool, str]:
    if not _is_ca(ca):
        return False, f"{common_name(ca.subject)!r} is not a CA certificate"
    if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
        return False, f"CA certificate {common_name(ca.subject)!r} is outside its validity period"
    return True, ""


@dataclass
class CertFacts:
    der: bytes
    cert: x509.Certificate
    subject: str
    issuer: str
    serial: str
    ocsp: list[str]
    crl: list[str]


# --- the probe -------------------------------------------------------------------------------------


class TokenProbe(Probe[TokenConfig]):
    name: ClassVar[str] = "token"
    Config: ClassVar[type[ProbeConfig]] = TokenConfig

    def __init__(self, config: TokenConfig, ctx: Any) -> None:
        super().__init__(config, ctx)
        self._http = TimedHTTP()

    def _hash(self, text: str) -> str:
        digest = hashlib.sha256((self.config.hash_salt + "\x00" + text).encode("utf-8")).hexdigest()
        return "sha256:" + digest[:16]

    def _personal(self, text: str) -> str:
        return self._hash(text) if self.config.hash_names and text else text

    async def collect(self) -> list[Point]:
        cfg = self.config
        jobs: list[Any] = [self.check_module(m) for m in cfg.modules]
        jobs += [self.check_middleware(m) for m in cfg.middleware]
        if cfg.clock is not None:
            if cfg.clock.ntp_server:
                jobs.append(self.check_ntp(cfg.clock))
            if cfg.clock.http_url:
                jobs.append(self.check_http_date(cfg.clock))
        if not cfg.modules and cfg.windows_store and sys.platform == "win32":  # pragma: no cover
            jobs.append(self.check_windows_store())
        points: list[Point] = []
        for result in await asyncio.gather(*jobs):
            points.extend(result if isinstance(result, list) else [result])
        return points

    # modules, tokens, certificates ------------------------------------------------------------------
    async def check_module(self, module: TokenModule) -> list[Point]:
        ts = self.ctx.clock_ns()
        mtags = {"module": module.name, "path": module.path[:MAX_TAG]}
        fields: dict[str, FieldValue | None] = {"loaded": 0, "slots": 0, "tokens": 0}
        anchors: list[x509.Certificate] = []
        bundle_error = ""
        if module.ca_bundle:
            try:
                anchors = await asyncio.to_thread(load_pem_bundle, module.ca_bundle)
                fields["ca_certs"] = len(anchors)
            except (OSError, ValueError) as exc:
                bundle_error = f"cannot read CA bundle {module.ca_bundle}: {getattr(exc, 'strerror', None) or exc}"
        if not await asyncio.to_thread(os.path.exists, module.path):
            return [self.point("token_module", {**fields, **result_fields(
                "module_not_found", f"PKCS#11 library {module.path} does not exist")}, mtags, ts)]
        try:
            async with asyncio.timeout(self.config.module_timeout):
                scan = await asyncio.to_thread(_scan_locked, module.path, module.token_label)
        except TimeoutError:
            return [self.point("token_module", {**fields, **result_fields(
                "module_timeout", f"PKCS#11 library did not answer within {self.config.module_timeout:g}s")}, mtags, ts)]
        except Exception as exc:  # PKCS11Error and friends: any library failure is data
            return [self.point("token_module", {**fields, **result_fields(
                "module_error", f"{type(exc).__name__}: {exc}"[:300])}, mtags, ts)]
        if scan is None:
            return [self.point("token_module", {**fields, **result_fields(
                "module_busy", "the previous query of this library has not finished")}, mtags, ts)]
        fields.update(loaded=1, slots=scan.slots, tokens=len(scan.tokens))
        code, reason = (("ca_bundle_error", bundle_error) if bundle_error else (RESULT_OK, ""))
        points = [self.point("token_module", {**fields, **result_fields(code, reason)}, mtags, ts)]
        if not scan.tokens:
            points.append(self.point("token", {"present": 0, "certificates": 0, **result_fields(
                "no_token", "no token in any slot" + (f" with label {module.token_label!r}" if module.token_label else ""))},
                {"module": module.name}, ts))
            return points
        for tok in scan.tokens:
            points.extend(await self._token_points(module, tok, anchors, bool(module.ca_bundle) and not bundle_error, ts))
        return points

    async def _token_points(
        self, module: TokenModule, tok: TokenScan, anchors: list[x509.Certificate], check_chain: bool, ts: int,
    ) -> list[Point]:
        from cryptography import x509

        label = self._personal(tok.label) or "(no label)"
        ttags = {"module": module.name, "token": label[:MAX_TAG], "serial": tok.serial[:MAX_TAG], "reader": tok.reader[:MAX_TAG]}
        parsed: list[tuple[bytes, x509.Certificate | None, str]] = []
        for der in tok.certs:
            try:
                parsed.append((der, x509.load_der_x509_certificate(der), ""))
            except ValueError as exc:
                parsed.append((der, None, str(exc)))
        on_token = [c for _d, c, _e in parsed if c is not None]
        users = [(d, c, e) for d, c, e in parsed if c is None or not _is_ca(c)]
        code, reason = (RESULT_OK, "") if users else ("no_certificate", "the token holds no user certificate")
        points = [self.point("token", {"present": 1, "certificates": len(users), **result_fields(code, reason)}, ttags, ts)]
        now = datetime.fromtimestamp(self.ctx.clock_ns() / 1e9, UTC)
        endpoint_jobs = []
        for der, cert, err in users:
            if cert is None:
                points.append(self.point("token_cert", result_fields("bad_certificate", f"cannot parse: {err}"[:300]),
                                         {"module": module.name, "token": ttags["token"],
                                          "serial": hashlib.sha256(der).hexdigest()[:16]}, ts))
                continue
            facts = self._facts(der, cert)
            points.append(self._cert_point(module, ttags["token"], facts, anchors, on_token, check_chain, now, ts))
            if self.config.check_endpoints:
                issuer = find_issuer(cert, anchors + on_token)
                endpoint_jobs += [self.check_ocsp(module, facts, url, issuer, ts) for url in facts.ocsp]
                endpoint_jobs += [self.check_crl(module, url, ts) for url in facts.crl]
        if endpoint_jobs:
            seen: set[tuple[tuple[str, str], ...]] = set()
            for p in await asyncio.gather(*endpoint_jobs):
                key = tuple(sorted(p.tg.items()))
                if key not in seen:  # the same CRL named by several certificates: one point
                    seen.add(key)
                    points.append(p)
        return points

    def _facts(self, der: bytes, cert: x509.Certificate) -> CertFacts:
        ocsp, crl = urls(cert)
        return CertFacts(der=der, cert=cert, subject=self._personal(common_name(cert.subject)) or "(no subject)",
                         issuer=common_name(cert.issuer) or "(no issuer)", serial=format(cert.serial_number, "x"),
                         ocsp=ocsp, crl=crl)

    def _cert_point(
        self, module: TokenModule, token: str, facts: CertFacts, anchors: list[x509.Certificate],
        on_token: list[x509.Certificate], check_chain: bool, now: datetime, ts: int,
    ) -> Point:
        cert = facts.cert
        nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
        usages, can_sign = key_usage(cert)
        days_left = (na - now).total_seconds() / 86400.0
        fields: dict[str, FieldValue | None] = {
            "not_before": int(nb.timestamp()), "not_after": int(na.timestamp()), "days_left": days_left,
            "expired": 1 if now > na else 0, "can_sign": 1 if can_sign else 0, "key_usage": ",".join(usages),
            "ocsp_url": facts.ocsp[0][:1024] if facts.ocsp else "", "crl_url": facts.crl[0][:1024] if facts.crl else "",
        }
        code, reason = RESULT_OK, ""
        if check_chain:
            chain_ok, why = verify_chain(cert, anchors, on_token, now)
            fields["chain_valid"] = 1 if chain_ok else 0
            if not chain_ok:
                code, reason = "chain_invalid", why
        if now < nb:
            code, reason = "not_yet_valid", f"valid only from {nb:%Y-%m-%d %H:%M} UTC"
        if now > na:
            code, reason = "expired", f"expired on {na:%Y-%m-%d %H:%M} UTC"
        tags = {"module": module.name, "token": token, "subject": facts.subject[:MAX_TAG],
                "issuer": facts.issuer[:MAX_TAG], "serial": facts.serial[:MAX_TAG]}
        return self.point("token_cert", {**fields, **result_fields(code, reason)}, tags, ts)

    async def check_windows_store(self) -> list[Point]:  # pragma: no cover - Windows only, untested here
        from cryptography import x509

        ts = self.ctx.clock_ns()
        module = TokenModule(name="windows-store", path="MY")
        now = datetime.fromtimestamp(ts / 1e9, UTC)
        points = []
        for der in await asyncio.to_thread(windows_store_certs):
            try:
                cert = x509.load_der_x509_certificate(der)
            except ValueError:
                continue
            if not _is_ca(cert):
                points.append(self._cert_point(module, "MY", self._facts(der, cert), [], [], False, now, ts))
        return points

    # endpoints ------------------------------------------------------------------------------------
    async def _timed(self, spec: RequestSpec) -> tuple[Response, str, str]:
        resp = Response()
        timeout = self.config.endpoint_timeout
        try:
            async with asyncio.timeout(timeout):
                await self._http.request(spec, resp)
        except ProbeFailure as exc:
            return resp, exc.code, exc.reason
        except TimeoutError:
            return resp, "timeout", f"no answer within {timeout:g}s (during {resp.phase})"
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            return resp, "bad_response" if isinstance(exc, ValueError) else "reset", f"{type(exc).__name__}: {exc}"
        return resp, RESULT_OK, ""

    @staticmethod
    def _timing(resp: Response) -> dict[str, FieldValue | None]:
        ph = resp.phases_ms
        return {"response_ms": resp.total_ms, "status_code": resp.status,
                "first_byte_ms": ph["dns"] + ph["connect"] + ph["tls"] + ph["processing"]}

    async def check_ocsp(
        self, module: TokenModule, facts: CertFacts, url: str, issuer: x509.Certificate | None, ts: int,
    ) -> Point:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509 import ocsp

        tags = {"module": module.name, "kind": "ocsp", "url": url[:MAX_TAG], "serial": facts.serial[:MAX_TAG]}
        if issuer is None:
            # No issuer certificate to build a request from: reachability only (any HTTP answer counts).
            resp, code, reason = await self._timed(RequestSpec(url=url, method="GET", max_body_bytes=64 * 1024))
            if code == RESULT_OK and resp.status >= 500:
                code, reason = "http_status", f"HTTP {resp.status}"
            return self.point("token_endpoint", {**self._timing(resp), **result_fields(code, reason)}, tags, ts)
        req = ocsp.OCSPRequestBuilder().add_certificate(facts.cert, issuer, hashes.SHA1()).build()
        spec = RequestSpec(url=url, method="POST", body=req.public_bytes(serialization.Encoding.DER),
                           headers={"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"},
                           max_body_bytes=256 * 1024)
        resp, code, reason = await self._timed(spec)
        fields = self._timing(resp)
        if code == RESULT_OK:
            if resp.status != 200:
                code, reason = "http_status", f"HTTP {resp.status} from the OCSP responder"
            else:
                try:
                    answer = ocsp.load_der_ocsp_response(resp.body)
                except ValueError as exc:
                    code, reason = "bad_response", f"not an OCSP response: {exc}"[:300]
                else:
                    fields["ocsp_response"] = answer.response_status.name.lower()
                    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                        code, reason = "ocsp_error", f"responder answered {answer.response_status.name.lower()}"
                    else:
                        status = answer.certificate_status.name.lower()
                        fields["cert_status"] = status
                        if answer.certificate_status == ocsp.OCSPCertStatus.REVOKED:
                            code, reason = "revoked", "the CA reports this certificate as revoked"
        return self.point("token_endpoint", {**fields, **result_fields(code, reason)}, tags, ts)

    async def check_crl(self, module: TokenModule, url: str, ts: int) -> Point:
        tags = {"module": module.name, "kind": "crl", "url": url[:MAX_TAG]}
        resp, code, reason = await self._timed(RequestSpec(url=url, method=self.config.crl_method, max_body_bytes=64 * 1024))
        if code == RESULT_OK and not 200 <= resp.status < 400:
            code, reason = "http_status", f"HTTP {resp.status} from the CRL server"
        return self.point("token_endpoint", {**self._timing(resp), **result_fields(code, reason)}, tags, ts)

    # middleware -----------------------------------------------------------------------------------
    async def check_middleware(self, mw: Middleware) -> Point:
        ts = self.ctx.clock_ns()
        tags = {"name": mw.name}
        fields: dict[str, FieldValue | None] = {}
        problems: list[tuple[str, str]] = []
        if mw.process:
            running = await asyncio.to_thread(process_running, mw.process)
            fields["process_running"] = 1 if running else 0
            if not running:
                problems.append(("process_not_running", f"process {mw.process} is not running"))
        if mw.port is not None:
            tags["port"] = str(mw.port)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(min(5.0, float(self.config.timeout))):
                    _reader, writer = await asyncio.open_connection(mw.host, mw.port)
                fields["connect_ms"] = (time.perf_counter() - started) * 1000.0
                fields["port_open"] = 1
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            except TimeoutError:
                fields["port_open"] = 0
                problems.append(("port_timeout", f"{mw.host}:{mw.port} did not answer"))
            except OSError as exc:
                fields["port_open"] = 0
                problems.append(("port_closed", f"nothing listens on {mw.host}:{mw.port} ({exc.strerror or exc})"))
        code, reason = problems[0] if problems else (RESULT_OK, "")
        if len(problems) > 1:
            reason = "; ".join(r for _c, r in problems)
        return self.point("token_middleware", {**fields, **result_fields(code, reason)}, tags, ts)

    # clock ----------------------------------------------------------------------------------------
    def _clock_point(self, source: str, server: str, offset_s: float | None, rtt_s: float | None,
                     code: str, reason: str, ts: int) -> Point:
        clock = self.config.clock
        assert clock is not None
        if code == RESULT_OK and offset_s is not None and abs(offset_s) > clock.max_offset:
            code = "clock_wrong"
            reason = f"this clock is {abs(offset_s):.1f}s {'behind' if offset_s > 0 else 'ahead of'} {server}"
        fields: dict[str, FieldValue | None] = {
            "offset_ms": None if offset_s is None else offset_s * 1000.0,
            "rtt_ms": None if rtt_s is None else rtt_s * 1000.0, **result_fields(code, reason),
        }
        return self.point("token_clock", fields, {"source": source, "server": server[:MAX_TAG]}, ts)

    async def check_ntp(self, clock: ClockConfig) -> Point:
        ts = self.ctx.clock_ns()
        try:
            res = await sntp.query(clock.ntp_server, limit_s=clock.timeout, clock=lambda: self.ctx.clock_ns() / 1e9)
        except ProbeFailure as exc:
            return self._clock_point("ntp", clock.ntp_server, None, None, exc.code, exc.reason, ts)
        except OSError as exc:
            return self._clock_point("ntp", clock.ntp_server, None, None, "connect_error", str(exc), ts)
        return self._clock_point("ntp", clock.ntp_server, res.offset_s, res.delay_s, RESULT_OK, "", ts)

    async def check_http_date(self, clock: ClockConfig) -> Point:
        ts = self.ctx.clock_ns()
        t1 = self.ctx.clock_ns() / 1e9
        resp = Response()
        code, reason = RESULT_OK, ""
        try:
            async with asyncio.timeout(clock.timeout):
                await self._http.request(RequestSpec(url=clock.http_url, method="HEAD", follow_redirects=False), resp)
        except ProbeFailure as exc:
            code, reason = exc.code, exc.reason
        except TimeoutError:
            code, reason = "timeout", f"no answer within {clock.timeout:g}s"
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            code, reason = "bad_response", f"{type(exc).__name__}: {exc}"
        t4 = self.ctx.clock_ns() / 1e9
        if code != RESULT_OK:
            return self._clock_point("http", clock.http_url, None, None, code, reason, ts)
        date = resp.headers.get("date", "")
        try:
            server_time = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return self._clock_point("http", clock.http_url, None, t4 - t1, "no_date",
                                     f"no usable Date header in the answer ({date[:40]!r})", ts)
        # The Date header is truncated to the second: compare with the middle of the exchange + 0.5 s.
        offset = server_time + 0.5 - (t1 + t4) / 2.0
        return self._clock_point("http", clock.http_url, offset, t4 - t1, RESULT_OK, "", ts)

    # commune-agent check ----------------------------------------------------------------------------
    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        return [line for p in points if (line := _check_line(p)) is not None]


def process_running(name: str) -> bool:
    import psutil

    want = name.lower()
    stem = want.removesuffix(".exe")
    for proc in psutil.process_iter(["name"]):
        pname = (proc.info.get("name") or "").lower()
        if pname in (want, stem) or pname.removesuffix(".exe") == stem:
            return True
    return False


def _vn_date(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, VN_TZ).strftime("%d/%m/%Y")


def _check_line(p: Point) -> CheckLine | None:
    f, tg = p.f, p.tg
    result = str(f.get("result", ""))
    module = tg.get("module", "")
    if p.m == "token_module":
        if result == RESULT_OK:
            return None
        if result == "ca_bundle_error":
            return CheckLine(SECTION, module, "warn",
                             "Không đọc được tệp chứng thư gốc (CA bundle) trong cấu hình nên chưa kiểm tra được chuỗi "
                             "chứng thư. Báo cán bộ CNTT kiểm tra đường dẫn ca_bundle.")
        return CheckLine(SECTION, module, "fail",
                         f"Không dùng được thư viện PKCS#11 của {module} ({result}). Cài (lại) phần mềm USB token "
                         "của nhà cung cấp chữ ký số và kiểm tra đường dẫn trong cấu hình.")
    if p.m == "token":
        if result == "no_token":
            return CheckLine(SECTION, module, "fail",
                             "Không thấy USB token chữ ký số. Cắm USB token vào máy; nếu đã cắm, thử cổng USB khác, "
                             "rồi cài lại phần mềm (driver) token của nhà cung cấp.")
        target = f"{tg.get('token', '')} ({module})"
        if result == "no_certificate":
            return CheckLine(SECTION, target, "fail",
                             "USB token không có chứng thư số nào. Liên hệ nhà cung cấp chữ ký số (CA) để cấp lại.")
        return CheckLine(SECTION, target, "ok", "")
    if p.m == "token_cert":
        target = f"{tg.get('subject', '')} ({tg.get('issuer', module)})"
        na = f.get("not_after")
        until = _vn_date(float(na)) if isinstance(na, int | float) else ""
        days = f.get("days_left")
        if result == "expired":
            return CheckLine(SECTION, target, "fail",
                             f"Chứng thư số đã hết hạn ngày {until}: không ký được. Liên hệ nhà cung cấp chữ ký số "
                             "(CA) để gia hạn.")
        if result == "not_yet_valid":
            return CheckLine(SECTION, target, "fail",
                             "Chứng thư số chưa đến ngày có hiệu lực. Kiểm tra ngày giờ của máy tính; nếu đúng, "
                             "liên hệ nhà cung cấp chữ ký số.")
        if result == "chain_invalid":
            return CheckLine(SECTION, target, "fail",
                             "Không xác thực được chứng thư số với chứng thư gốc của CA. Cài chứng thư gốc của CA "
                             "hoặc liên hệ nhà cung cấp chữ ký số.")
        if result == "bad_certificate":
            return CheckLine(SECTION, target, "fail", "Chứng thư số trên USB token bị hỏng. Liên hệ nhà cung cấp chữ ký số.")
        if isinstance(days, int | float) and days < WARN_DAYS:
            n = max(0, int(days))
            return CheckLine(SECTION, target, "warn",
                             f"Chứng thư số sẽ hết hạn sau {n} ngày (ngày {until}). Liên hệ nhà cung cấp chữ ký số "
                             "(CA) để gia hạn trước khi hết hạn.")
        if f.get("can_sign") == 0:
            return CheckLine(SECTION, target, "warn",
                             "Chứng thư này không được phép dùng để ký (key usage). Dùng chứng thư ký số khác trên token.")
        return CheckLine(SECTION, target, "ok", "")
    if p.m == "token_endpoint":
        if result == RESULT_OK:
            return None
        what = "máy chủ kiểm tra trạng thái chứng thư (OCSP)" if tg.get("kind") == "ocsp" else "danh sách thu hồi (CRL)"
        if result == "revoked":
            return CheckLine(SECTION, tg.get("url", ""), "fail",
                             "Chứng thư số đã bị nhà cung cấp thu hồi: không ký được. Liên hệ nhà cung cấp chữ ký số.")
        return CheckLine(SECTION, tg.get("url", ""), "fail",
                         f"Không kết nối được {what} của nhà cung cấp chữ ký số ({result}), nên có thể không ký được. "
                         "Kiểm tra kết nối Internet; nếu các trang khác vẫn vào được, báo nhà cung cấp chữ ký số.")
    if p.m == "token_middleware":
        if result == RESULT_OK:
            return CheckLine(SECTION, tg.get("name", ""), "ok", "")
        return CheckLine(SECTION, tg.get("name", ""), "fail",
                         f"Phần mềm ký số {tg.get('name', '')} không chạy ({result}). Mở lại phần mềm ký số "
                         "(hoặc khởi động lại máy); nếu vẫn lỗi, cài lại phần mềm của nhà cung cấp.")
    if p.m == "token_clock":
        off = f.get("offset_ms")
        if result == "clock_wrong" and isinstance(off, int | float):
            direction = "chậm" if off > 0 else "nhanh"
            return CheckLine(SECTION, tg.get("server", ""), "fail",
                             f"Đồng hồ máy tính {direction} {abs(off) / 1000.0:.0f} giây so với giờ chuẩn: chữ ký số và "
                             "trang web bảo mật có thể bị từ chối. Chỉnh lại ngày giờ và bật đồng bộ giờ tự động.")
        if result != RESULT_OK:
            return CheckLine(SECTION, tg.get("server", ""), "warn",
                             f"Không đo được độ lệch đồng hồ ({result}). Kiểm tra kết nối tới máy chủ thời gian.")
        return None
    return None
