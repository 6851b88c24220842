"""Reading a YAML config file with messages that name the file (``agent.yaml: not valid YAML: ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path, error: type[Exception]) -> Any:
    """The parsed content of ``path``; raises ``error`` naming the file when it cannot be read, is not UTF-8
    or is not valid YAML (the caller's package exception, e.g. its ConfigError)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # UnicodeDecodeError
        raise error(f"{path}: not valid YAML: {exc}") from None
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
