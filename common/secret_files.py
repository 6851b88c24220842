"""Secrets given inline or, better, in a file of their own (kept out of the config file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def read_secret(value: str, file: str, where: str, error: Callable[[str], Exception]) -> str | None:
    """The secret from ``file`` (stripped) if set, else ``value``, else None. An unreadable file raises
    ``error(message)``; the message starts with ``where`` (e.g. ``collector.yaml: mqtt.password_file``)."""
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise error(f"{where}: cannot read {file}: {exc.strerror}") from None
    return value or None
