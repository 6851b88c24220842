from collector.registry import PHU_THO, communes


def test_phu_tho_has_148_communes_with_diacritics() -> None:
    units = communes(PHU_THO)
    assert len(units) == 148
    assert units["07900"].name == "Phường Việt Trì"
    assert all(len(code) == 5 and code.isdigit() for code in units)
    assert all(u.province_name == "Phú Thọ" for u in units.values())
    assert sum(1 for u in units.values() if u.name.startswith("Xã ")) > 100
