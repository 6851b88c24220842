"""The token probe's scanning side, run by the scan child (``agent.probes.token.scan``): a PKCS#11 module's
tokens and their certificates, and the certificates' OCSP/CRL endpoints; also the Windows certificate store
(in the agent process, on Windows only)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agent.net.httptiming import RequestSpec, Response, TimedHTTP
from agent.probes.base import (
    RESULT_OK,
    ProbeContext,
    ProbeFailure,
    result_fields,
)
from agent.probes.token.certs import (
    CertFacts,
    common_name,
    find_issuer,
    is_ca,
    key_usage,
    load_pem_bundle,
    urls,
    verify_chain,
)
from agent.probes.token.config import TokenConfig, TokenModule
from agent.probes.token.pkcs11scan import TokenScan, scan_locked, windows_store_certs
from agent.probes.token.probe import MAX_TAG, TokenProbe
from agent.probes.token.results import TokenResult
from agent.wire import FieldValue, Point

if TYPE_CHECKING:
    from cryptography import x509


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TokenScanner(TokenProbe):
    """Checks one module in this process (the child's side); ``TokenProbe`` is what the agent schedules."""

    def __init__(self, config: TokenConfig, ctx: ProbeContext) -> None:
        super().__init__(config, ctx)
        self._http = TimedHTTP()

    def _hash(self, text: str) -> str:
        digest = hashlib.sha256((self.config.hash_salt + "\x00" + text).encode("utf-8")).hexdigest()
        return "sha256:" + digest[:16]

    def _personal(self, text: str) -> str:
        return self._hash(text) if self.config.hash_names and text else text

    async def check_module_here(self, module: TokenModule) -> list[Point]:
        """One module's points, computed in this process (the child's side, agent.probes.token.scan)."""
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
                TokenResult.MODULE_NOT_FOUND, f"PKCS#11 library {module.path} does not exist")}, mtags, ts)]
        try:
            async with asyncio.timeout(self.config.module_timeout):
                scan = await asyncio.to_thread(scan_locked, module.path, module.token_label)
        except TimeoutError:
            return [self.point("token_module", {**fields, **result_fields(
                TokenResult.MODULE_TIMEOUT, f"PKCS#11 library did not answer within {self.config.module_timeout:g}s")}, mtags, ts)]
        except Exception as exc:  # PKCS11Error and friends: any library failure is data
            return [self.point("token_module", {**fields, **result_fields(
                TokenResult.MODULE_ERROR, f"{type(exc).__name__}: {exc}"[:300])}, mtags, ts)]
        if scan is None:
            return [self.point("token_module", {**fields, **result_fields(
                TokenResult.MODULE_BUSY, "the previous query of this library has not finished")}, mtags, ts)]
        fields.update(loaded=1, slots=scan.slots, tokens=len(scan.tokens))
        code, reason = ((TokenResult.CA_BUNDLE_ERROR, bundle_error) if bundle_error else (RESULT_OK, ""))
        points = [self.point("token_module", {**fields, **result_fields(code, reason)}, mtags, ts)]
        if not scan.tokens:
            points.append(self.point("token", {"present": 0, "certificates": 0, **result_fields(
                TokenResult.NO_TOKEN, "no token in any slot" + (f" with label {module.token_label!r}" if module.token_label else ""))},
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
        users = [(d, c, e) for d, c, e in parsed if c is None or not is_ca(c)]
        code, reason = (RESULT_OK, "") if users else (TokenResult.NO_CERTIFICATE, "the token holds no user certificate")
        points = [self.point("token", {"present": 1, "certificates": len(users), **result_fields(code, reason)}, ttags, ts)]
        now = datetime.fromtimestamp(self.ctx.clock_ns() / 1e9, UTC)
        endpoint_jobs = []
        for der, cert, err in users:
            if cert is None:
                points.append(self.point("token_cert", result_fields(TokenResult.BAD_CERTIFICATE, f"cannot parse: {err}"[:300]),
                                         {"module": module.name, "token": ttags["token"],
                                          "serial": _sha256_hex(der)[:16]}, ts))
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
                code, reason = TokenResult.CHAIN_INVALID, why
        if now < nb:
            code, reason = TokenResult.NOT_YET_VALID, f"valid only from {nb:%Y-%m-%d %H:%M} UTC"
        if now > na:
            code, reason = TokenResult.EXPIRED, f"expired on {na:%Y-%m-%d %H:%M} UTC"
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
            if not is_ca(cert):
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
            return resp, TokenResult(exc.code), exc.reason
        except TimeoutError:
            return resp, TokenResult.TIMEOUT, f"no answer within {timeout:g}s (during {resp.phase})"
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            return resp, TokenResult.BAD_RESPONSE if isinstance(exc, ValueError) else TokenResult.RESET, f"{type(exc).__name__}: {exc}"
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
                code, reason = TokenResult.HTTP_STATUS, f"HTTP {resp.status}"
            return self.point("token_endpoint", {**self._timing(resp), **result_fields(code, reason)}, tags, ts)
        req = ocsp.OCSPRequestBuilder().add_certificate(facts.cert, issuer, hashes.SHA1()).build()
        spec = RequestSpec(url=url, method="POST", body=req.public_bytes(serialization.Encoding.DER),
                           headers={"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"},
                           max_body_bytes=256 * 1024)
        resp, code, reason = await self._timed(spec)
        fields = self._timing(resp)
        if code == RESULT_OK:
            if resp.status != 200:
                code, reason = TokenResult.HTTP_STATUS, f"HTTP {resp.status} from the OCSP responder"
            else:
                try:
                    answer = ocsp.load_der_ocsp_response(resp.body)
                except ValueError as exc:
                    code, reason = TokenResult.BAD_RESPONSE, f"not an OCSP response: {exc}"[:300]
                else:
                    fields["ocsp_response"] = answer.response_status.name.lower()
                    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                        code, reason = TokenResult.OCSP_ERROR, f"responder answered {answer.response_status.name.lower()}"
                    else:
                        status = answer.certificate_status.name.lower()
                        fields["cert_status"] = status
                        if answer.certificate_status == ocsp.OCSPCertStatus.REVOKED:
                            code, reason = TokenResult.REVOKED, "the CA reports this certificate as revoked"
        return self.point("token_endpoint", {**fields, **result_fields(code, reason)}, tags, ts)

    async def check_crl(self, module: TokenModule, url: str, ts: int) -> Point:
        tags = {"module": module.name, "kind": "crl", "url": url[:MAX_TAG]}
        resp, code, reason = await self._timed(RequestSpec(url=url, method=self.config.crl_method, max_body_bytes=64 * 1024))
        if code == RESULT_OK and not 200 <= resp.status < 400:
            code, reason = TokenResult.HTTP_STATUS, f"HTTP {resp.status} from the CRL server"
        return self.point("token_endpoint", {**self._timing(resp), **result_fields(code, reason)}, tags, ts)
