"""The measurements the token probe sends (see ``agent.wire.spec``; listed in docs/probes/token.md)."""

from __future__ import annotations

from typing import Final

from agent.wire.spec import RESULT_FIELDS, float_field, int_field, measurement, str_field

MEASUREMENTS: Final = (
    measurement("token_module", "token", {"module": "configured name", "path": "library path"}, {
        "loaded": int_field("1/0", "1 if the library loaded and answered"),
        "slots": int_field("count", "slots the library shows (with or without a token)"),
        "tokens": int_field("count", "initialised tokens present (after token_label filtering)"),
        "ca_certs": int_field("count", "certificates in the CA bundle (only when ca_bundle is set and readable)"),
        **RESULT_FIELDS,
    }),
    measurement("token", "token", {"module": "configured name", "token": "token label (hashed with hash_names); "
                                   "absent when no token", "serial": "token serial number",
                                   "reader": "slot description (the reader / token device)"}, {
        "present": int_field("1/0", "1 present, 0 no token"),
        "certificates": int_field("count", "end-entity (user) certificates on the token"),
        **RESULT_FIELDS,
    }),
    measurement("token_cert", "token", {"module": "configured name", "token": "token label",
                                        "subject": "subject common name (hashed with hash_names)",
                                        "issuer": "issuer common name (the CA)",
                                        "serial": "certificate serial, lower-case hex"}, {
        "not_before": int_field("unix s"), "not_after": int_field("unix s"),
        "days_left": float_field("days", "until not_after (negative once expired)"),
        "expired": int_field("1/0"),
        "can_sign": int_field("1/0", "key usage allows digitalSignature or nonRepudiation (no KeyUsage extension: 1)"),
        "key_usage": str_field("comma-separated key usages, e.g. digital_signature,content_commitment", max_length=256),
        "chain_valid": int_field("1/0", "only when a CA bundle is configured"),
        "ocsp_url": str_field("first OCSP URL in the certificate, empty when none"),
        "crl_url": str_field("first CRL URL in the certificate, empty when none"),
        **RESULT_FIELDS,
    }),
    measurement("token_endpoint", "token", {"module": "configured name", "kind": "ocsp or crl", "url": "endpoint URL",
                                            "serial": "certificate serial (OCSP only)"}, {
        "response_ms": float_field("ms", "whole request (DNS + connect + TLS + wait + transfer)"),
        "first_byte_ms": float_field("ms", "until the first response byte"),
        "status_code": int_field("", "HTTP status, 0 when no answer"),
        "ocsp_response": str_field("successful, malformed_request, internal_error, try_later, sig_required, "
                                   "unauthorized", max_length=32),
        "cert_status": str_field("good, revoked, unknown (OCSP, successful answers)", max_length=32),
        **RESULT_FIELDS,
    }),
    measurement("token_middleware", "token", {"name": "configured name", "port": "configured port (when set)"}, {
        "process_running": int_field("1/0", "when process is set; case-insensitive, .exe optional"),
        "port_open": int_field("1/0", "when port is set: a TCP connection to host:port succeeded"),
        "connect_ms": float_field("ms", "TCP connect time (when the port answered)"),
        **RESULT_FIELDS,
    }),
)
