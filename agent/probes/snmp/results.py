"""Result codes of the ``snmp`` probe (field ``result`` of ``snmp_device``)."""

from __future__ import annotations

from enum import StrEnum


class SnmpResult(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"
    """No answer within timeout x retries (or the poll's deadline)."""
    AUTH_ERROR = "auth_error"
    """SNMPv3 user, keys or protocols rejected."""
    UPLINK_DOWN = "uplink_down"
    """The device answers but its configured uplink is down."""
    ERROR = "error"
    """Anything else, e.g. an SNMP error status."""
