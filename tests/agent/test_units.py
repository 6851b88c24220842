import re

import pytest

from agent.units import parse_duration, parse_size


@pytest.mark.parametrize(("text", "seconds"), [(10, 10.0), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0),
                                              ("7d", 604800.0), ("500ms", 0.5), (" 1.5 s", 1.5)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "size"), [(1024, 1024), ("64MiB", 64 * 2**20), ("1GB", 10**9), ("10KiB", 10240)])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("bad", "message"), [
    ("soon", "expected a duration like '30s', '5m', '7d', got 'soon'"),
    ("5 weeks", "expected a duration like '30s', '5m', '7d', got '5 weeks'"),
    (True, "expected a duration like '30s', got True"),
    (None, "expected a duration like '30s', '5m', '7d', got None"),
    ("-1s", "expected a duration like '30s', '5m', '7d', got '-1s'"),
])
def test_bad_durations(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_duration(bad)


@pytest.mark.parametrize(("bad", "message"), [
    ("lots", "expected a size like '64MiB' or a number of bytes, got 'lots'"),
    ("5 TB", "expected a size like '64MiB' or a number of bytes, got '5 TB'"),
    (False, "expected a size like '64MiB', got False"),
    (1.5, "expected a size like '64MiB' or a number of bytes, got 1.5"),
])
def test_bad_sizes(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_size(bad)
