"""X.509 facts of a token's certificates: names, key usage, OCSP/CRL URLs, issuer and chain checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

def clean_text(text: str) -> str:
    """Printable characters only, stripped (labels and names come from hardware and certificates)."""
    return "".join(ch for ch in text if ch.isprintable()).strip()


def load_pem_bundle(path: str) -> list[x509.Certificate]:
    from cryptography import x509

    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if attrs:
        value = attrs[0].value
        return clean_text(value if isinstance(value, str) else value.decode("utf-8", errors="replace"))
    return clean_text(name.rfc4514_string())


def is_ca(cert: x509.Certificate) -> bool:
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
    if not is_ca(ca):
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
