"""Display names of portals for alert texts (``{service_name}``): the ``label`` of the shipped service
catalogues (agent/defaults/services-*.yaml, read as data: the collector imports nothing of the agent but
its wire contract) by service name. Points carry the service name only (the ``service`` tag); a service in
no catalogue is shown by its name."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def catalogue_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for entry in sorted(resources.files("agent").joinpath("defaults").iterdir(), key=lambda e: e.name):
        if entry.name.startswith("services-") and entry.name.endswith(".yaml"):
            items: Any = yaml.safe_load(entry.read_text(encoding="utf-8")) or []
            labels.update({str(t["name"]): str(t["label"]) for t in items
                           if isinstance(t, dict) and t.get("name") and t.get("label")})
    return labels


def service_name(service: str) -> str:
    """``dvc-quoc-gia`` -> ``Cổng Dịch vụ công quốc gia``; an unknown service -> itself."""
    return catalogue_labels().get(service, service)
