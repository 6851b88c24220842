"""Display names of portals for alert texts (``{service_name}``): the ``label`` of the shipped service
catalogues (agent/defaults/services-*.yaml) by service name. Points carry the service name only (the
``service`` tag); a service in no catalogue is shown by its name."""

from __future__ import annotations

from functools import cache
from importlib import resources

from agent.probes.http import load_catalogue


@cache
def catalogue_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for entry in sorted(resources.files("agent").joinpath("defaults").iterdir(), key=lambda e: e.name):
        if entry.name.startswith("services-") and entry.name.endswith(".yaml"):
            catalogue = entry.name.removeprefix("services-").removesuffix(".yaml")
            labels.update({t.name: t.label for t in load_catalogue(catalogue) if t.label})
    return labels


def service_name(service: str) -> str:
    """``dvc-quoc-gia`` -> ``Cổng Dịch vụ công quốc gia``; an unknown service -> itself."""
    return catalogue_labels().get(service, service)
