"""TLS client contexts that verify like ``ssl.create_default_context()`` without holding the whole system CA
bundle in memory.

``create_default_context()`` loads every certificate of the system bundle into the context's store (about 140 on
Debian: ~1.4 MiB resident per process, ~0.8 MiB more per further context). Where the platform keeps OpenSSL's
hashed certificate directory (Debian's ``update-ca-certificates`` maintains ``/etc/ssl/certs/<hash>.0`` beside the
bundle), the store is pointed at that directory instead: OpenSSL reads the one issuer a handshake needs, when it
needs it, and trusts exactly the same certificates. Elsewhere (Windows' system store, a directory without hash
links, ``SSL_CERT_FILE`` set) it is the default context.
"""

from __future__ import annotations

import functools
import os
import re
import ssl

_HASH_LINK = re.compile(r"^[0-9a-f]{8}\.\d+$")


@functools.cache
def system_hashed_dir() -> str | None:
    """The platform's hashed CA directory, when the system trust store should be read from it."""
    if os.name == "nt" or os.environ.get("SSL_CERT_FILE"):
        return None
    capath = ssl.get_default_verify_paths().capath
    if not capath:
        return None
    try:
        with os.scandir(capath) as entries:
            return capath if any(_HASH_LINK.match(e.name) for e in entries) else None
    except OSError:
        return None


def client_context(ca_file: str | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A TLS client context verifying the server (hostname and chain) against ``ca_file``, else the system CAs;
    ``verify=False``: no verification at all (reading a certificate whatever it is, tests, emergencies)."""
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    capath = system_hashed_dir()
    return ssl.create_default_context(capath=capath) if capath else ssl.create_default_context()
