"""PKCS#11 (python-pkcs11): list a library's slots, tokens and certificates without a PIN, and the
Windows personal certificate store. Runs in a worker thread: vendor libraries block."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from agent.probes.token.certs import clean_text


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
        label = clean_text(token.label)
        if token_label and label != token_label:
            continue
        serial = clean_text(token.serial.decode("ascii", errors="replace"))
        found = TokenScan(label=label, serial=serial, reader=clean_text(slot.slot_description), slot_id=int(slot.slot_id))
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


def scan_locked(path: str, token_label: str) -> ModuleScan | None:
    lock = _lock_for(path)
    if not lock.acquire(blocking=False):
        return None
    try:
        return scan_module(path, token_label)
    finally:
        lock.release()


def windows_store_certs() -> list[bytes]:  # pragma: no cover - Windows only, untested here
    """DER certificates of the current user's personal store (Windows only): see agent.hostos."""
    from agent.hostos import windows_store_certs as store

    return store()
