"""One device's SNMP requests over pysnmp (GET, multi-column GETBULK walks), its credentials, and the
diagnosis of an SNMPv3 timeout. Failures raise ``ProbeFailure`` with an ``SnmpResult`` code."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from agent.probes.base import ProbeFailure
from agent.probes.snmp.mib import SYS_UPTIME
from agent.probes.snmp.results import SnmpResult

if TYPE_CHECKING:
    from agent.probes.snmp.config import SnmpDevice

MAX_REQUESTS_PER_DEVICE = 2000

_AUTH_INDICATIONS = {
    "WrongDigest", "UnknownUserName", "UnsupportedSecurityLevel", "AuthenticationError", "AuthenticationFailure",
    "DecryptionError", "UnknownSecurityName", "UnknownEngineID", "NotInTimeWindow",
}


def indication_code(indication: Any) -> str:
    name = type(indication).__name__
    if name == "RequestTimedOut":
        return SnmpResult.TIMEOUT
    if name in _AUTH_INDICATIONS:
        return SnmpResult.AUTH_ERROR
    return SnmpResult.ERROR


def py_value(value: Any) -> int | str | None:
    """pysnmp value -> int, str or None (noSuchObject / noSuchInstance / endOfMibView)."""
    from pyasn1.type import univ
    from pysnmp.proto import rfc1905

    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets()).decode("utf-8", "replace").strip("\x00").strip()
    if isinstance(value, univ.Integer):
        return int(value)
    return None


class Session:
    """One device's SNMP requests: GET and multi-column GETBULK walks; counts requests."""

    def __init__(self, engine: Any, auth: Any, target: Any, context: Any, bulk_varbinds: int) -> None:
        self.engine, self.auth, self.target, self.context = engine, auth, target, context
        self.bulk_varbinds = bulk_varbinds
        self.requests = 0

    def _check(self, indication: Any, status: Any, index: Any, var_binds: Any) -> None:
        if indication:
            raise ProbeFailure(indication_code(indication), f"{type(indication).__name__}: {indication}")
        if status and str(status.prettyPrint()) != "noError" and str(status.prettyPrint()) != "tooBig":
            raise ProbeFailure(SnmpResult.ERROR, f"SNMP error status {status.prettyPrint()} at index {index}")

    async def get(self, oids: list[str]) -> dict[str, int | str | None]:
        from pysnmp.hlapi.v3arch import asyncio as hl

        self.requests += 1
        indication, status, index, var_binds = await hl.get_cmd(
            self.engine, self.auth, self.target, self.context, *(hl.ObjectType(hl.ObjectIdentity(o)) for o in oids),
            lookupMib=False,
        )
        self._check(indication, status, index, var_binds)
        return {str(vb[0]): py_value(vb[1]) for vb in var_binds}

    async def walk(self, columns: list[str]) -> dict[str, dict[str, int | str]]:
        """Walk several table columns in parallel with GETBULK; ``{column: {index: value}}``."""
        from pysnmp.hlapi.v3arch import asyncio as hl

        out: dict[str, dict[str, int | str]] = {c: {} for c in columns}
        cursor: dict[str, str] = {c: c for c in columns}
        budget = self.bulk_varbinds
        while cursor:
            if self.requests >= MAX_REQUESTS_PER_DEVICE:
                break
            cols = list(cursor)[: max(1, budget)]
            reps = max(1, budget // len(cols))
            self.requests += 1
            indication, status, index, var_binds = await hl.bulk_cmd(
                self.engine, self.auth, self.target, self.context, 0, reps,
                *(hl.ObjectType(hl.ObjectIdentity(cursor[c])) for c in cols), lookupMib=False,
            )
            self._check(indication, status, index, var_binds)
            if status and str(status.prettyPrint()) == "tooBig":
                if budget == 1:
                    raise ProbeFailure(SnmpResult.ERROR, "device answers tooBig even to one variable")
                budget = max(1, budget // 2)
                continue
            seen: set[str] = set()
            if not var_binds:
                break
            for i, vb in enumerate(var_binds):
                c = cols[i % len(cols)]
                if c not in cursor:
                    continue
                oid = str(vb[0])
                value = py_value(vb[1])
                prefix = c + "."
                if not oid.startswith(prefix) or value is None or oid_key(oid) <= oid_key(cursor[c]):
                    del cursor[c]  # left the column, end of MIB, or an agent going backwards
                    continue
                out[c][oid[len(prefix):]] = value
                cursor[c] = oid
                seen.add(c)
            for c in cols:
                if c in cursor and c not in seen:
                    del cursor[c]  # no progress at all: stop rather than loop
        return out


def oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.split(".") if x)


def new_engine() -> Any:
    """A pysnmp engine (one per device: SNMPv3 users and discovered engine IDs never mix)."""
    from pysnmp.hlapi.v3arch import asyncio as hl

    return hl.SnmpEngine()


def auth_data(dev: SnmpDevice) -> Any:
    """pysnmp credentials of a device: community (v2c) or USM user with its keys (v3 authPriv)."""
    from pysnmp.hlapi.v3arch import asyncio as hl

    if dev.version == "2c" or dev.v3 is None:
        return hl.CommunityData(dev.community, mpModel=1)
    auth = {
        "md5": hl.usmHMACMD5AuthProtocol, "sha": hl.usmHMACSHAAuthProtocol,
        "sha224": hl.usmHMAC128SHA224AuthProtocol, "sha256": hl.usmHMAC192SHA256AuthProtocol,
        "sha384": hl.usmHMAC256SHA384AuthProtocol, "sha512": hl.usmHMAC384SHA512AuthProtocol,
    }[dev.v3.auth_protocol]
    priv = {
        "des": hl.usmDESPrivProtocol, "3des": hl.usm3DESEDEPrivProtocol, "aes": hl.usmAesCfb128Protocol,
        "aes128": hl.usmAesCfb128Protocol, "aes192": hl.usmAesCfb192Protocol, "aes256": hl.usmAesCfb256Protocol,
    }[dev.v3.priv_protocol]
    return hl.UsmUserData(dev.v3.user, authKey=dev.v3.auth_key, privKey=dev.v3.priv_key,
                          authProtocol=auth, privProtocol=priv)

async def open_session(engine: Any, dev: SnmpDevice, bulk_varbinds: int) -> Session:
    from pysnmp.hlapi.v3arch import asyncio as hl

    try:
        target = await hl.UdpTransportTarget.create((dev.host, dev.port), timeout=float(dev.timeout),
                                                    retries=dev.retries)
    except Exception as exc:  # name resolution and the like
        raise ProbeFailure(SnmpResult.ERROR, f"cannot reach {dev.host}:{dev.port}: {exc}") from None
    context = hl.ContextData(contextName=dev.v3.context) if dev.v3 and dev.v3.context else hl.ContextData()
    return Session(engine, auth_data(dev), target, context, bulk_varbinds)


async def diagnose_v3(dev: SnmpDevice) -> tuple[str, str] | None:
    """After a v3 timeout: does the device answer an unauthenticated request for the same user?

    An agent silently drops a request it cannot decrypt (wrong privacy key or protocol), which looks
    like a dead device. If it answers noAuthNoPriv with authorizationError, it is alive and knows the
    user, so the keys are wrong; if it says the user is unknown, the user name is wrong.
    """
    from pysnmp.hlapi.v3arch import asyncio as hl

    assert dev.v3 is not None
    engine = hl.SnmpEngine()
    try:
        async with asyncio.timeout(float(dev.timeout) + 1.0):
            target = await hl.UdpTransportTarget.create((dev.host, dev.port), timeout=float(dev.timeout), retries=0)
            indication, status, _, _ = await hl.get_cmd(
                engine, hl.UsmUserData(dev.v3.user), target, hl.ContextData(),
                hl.ObjectType(hl.ObjectIdentity(SYS_UPTIME)), lookupMib=False,
            )
    except Exception:
        return None
    finally:
        engine.close_dispatcher()
    if indication is None and status:
        return (SnmpResult.AUTH_ERROR, f"{dev.host} answers SNMPv3 for user {dev.v3.user!r} but drops requests with the "
                              f"configured keys: the privacy key or protocol is probably wrong")
    if indication is not None and indication_code(indication) == SnmpResult.AUTH_ERROR:
        return (SnmpResult.AUTH_ERROR, f"{type(indication).__name__}: {indication} (user {dev.v3.user!r})")
    return None
