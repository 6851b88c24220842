import pytest

from agent.units import parse_duration, parse_size


@pytest.mark.parametrize(("text", "seconds"), [(10, 10.0), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0),
                                              ("7d", 604800.0), ("500ms", 0.5), (" 1.5 s", 1.5)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "size"), [(1024, 1024), ("64MiB", 64 * 2**20), ("1GB", 10**9), ("10KiB", 10240)])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["soon", "5 weeks", True, None, "-1s"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)
