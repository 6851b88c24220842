"""MQTT helpers both sides use: telling a lost connection from a bug, and the client TLS context."""

from __future__ import annotations

import ssl
import sys

from common.mqtt_client import MqttError
from common.tls import client_context


def mqtt_error(exc: BaseException) -> Exception | None:
    """The MQTT error behind ``exc``, also inside an ExceptionGroup from a TaskGroup; None if any part of it
    is something else (a bug, which must not be mistaken for a lost connection)."""
    aiomqtt = sys.modules.get("aiomqtt")  # the collector's and the simulator's client (not imported by the agent)
    if isinstance(exc, MqttError) or (aiomqtt is not None and isinstance(exc, aiomqtt.MqttError)):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        errors = [mqtt_error(e) for e in exc.exceptions]
        if errors and all(e is not None for e in errors):
            return errors[0]
    return None


def client_tls_context(ca_file: str = "", cert_file: str = "", key_file: str = "",
                       insecure_skip_verify: bool = False) -> ssl.SSLContext:
    """A TLS client context: verify the server against ``ca_file`` (else the system CAs), optionally present
    a client certificate. ``insecure_skip_verify`` turns verification off (tests and emergencies only)."""
    ctx = client_context(ca_file or None, verify=not insecure_skip_verify)
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file or None)
    return ctx
