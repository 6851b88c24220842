"""Result codes of the ``token`` probe (field ``result`` of its measurements; which measurement uses which
code is in docs/probes/token.md)."""

from __future__ import annotations

from enum import StrEnum


class TokenResult(StrEnum):
    OK = "ok"
    # token_module
    MODULE_NOT_FOUND = "module_not_found"
    MODULE_ERROR = "module_error"
    MODULE_TIMEOUT = "module_timeout"
    MODULE_BUSY = "module_busy"
    CA_BUNDLE_ERROR = "ca_bundle_error"
    # token
    NO_TOKEN = "no_token"
    NO_CERTIFICATE = "no_certificate"
    # token_cert
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    CHAIN_INVALID = "chain_invalid"
    BAD_CERTIFICATE = "bad_certificate"
    # token_endpoint
    REVOKED = "revoked"
    OCSP_ERROR = "ocsp_error"
    BAD_RESPONSE = "bad_response"
    HTTP_STATUS = "http_status"
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_ERROR = "connect_error"
    RESET = "reset"
    TLS_ERROR = "tls_error"
    CERT_EXPIRED = "cert_expired"
    """The endpoint's own TLS certificate has expired (https endpoints)."""
    PROXY_ERROR = "proxy_error"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_URL = "bad_url"
    # token_middleware
    PROCESS_NOT_RUNNING = "process_not_running"
    PORT_CLOSED = "port_closed"
    PORT_TIMEOUT = "port_timeout"
