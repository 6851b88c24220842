"""Portal display names for alert texts come from the shipped service catalogues."""

from __future__ import annotations

from agent.probes.http import load_catalogue
from collector.alerts.service_names import service_name


def test_catalogue_services_get_their_label_and_others_their_name() -> None:
    assert service_name("dvc-quoc-gia") == "Cổng Dịch vụ công quốc gia"
    assert all(service_name(t.name) == t.label for t in load_catalogue("phutho") if t.label)
    assert service_name("cong-rieng-cua-xa") == "cong-rieng-cua-xa"
    assert service_name("") == ""
