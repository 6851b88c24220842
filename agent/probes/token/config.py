"""Config of the ``token`` probe: PKCS#11 modules, signing middleware, endpoint checks, privacy."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from agent.probes.base import ProbeConfig
from agent.units import Duration

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


class TokenConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(300)
    timeout: Duration = Duration(60)
    modules: list[TokenModule] = msgspec.field(default_factory=list)
    middleware: list[Middleware] = msgspec.field(default_factory=list)
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
