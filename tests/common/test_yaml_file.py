"""common.yaml_file.read_yaml: every way a config file can be unusable is the caller's error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.yaml_file import read_yaml


class Bad(Exception):
    pass


def test_reads_a_mapping(tmp_path: Path) -> None:
    p = tmp_path / "ok.yaml"
    p.write_text("a: 1\nb: [x, \"Phú Thọ\"]\n", encoding="utf-8")
    assert read_yaml(p, Bad) == {"a": 1, "b": ["x", "Phú Thọ"]}


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read: No such file or directory"),
    (b"a: [1, 2\n", "not valid YAML: "),
    (b"name: \xff\xfe\n", "not valid YAML: 'utf-8' codec can't decode"),
])
def test_unusable_files_raise_the_callers_error_naming_the_file(tmp_path: Path, content: bytes | None,
                                                                 message: str) -> None:
    p = tmp_path / "bad.yaml"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(Bad) as err:
        read_yaml(p, Bad)
    assert str(err.value).startswith(f"{p}: {message}")
