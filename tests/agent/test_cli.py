"""``commune-agent validate`` run as a command (the installed console script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent


def test_validate_accepts_a_good_config_and_names_the_bad_field(tmp_path: Path) -> None:
    good = tmp_path / "agent.yaml"
    good.write_text(yaml.safe_dump({"agent": {"id": "pc-1"}, "probes": {"host": {"interval": "30s"}}}))
    r = subprocess.run([str(BIN / "commune-agent"), "validate", "-c", str(good)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"{good}: ok (1 probes: host)"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"agent": {"id": "pc-1"}, "probes": {"ping": {"bogus": 1}}}))
    r = subprocess.run([str(BIN / "commune-agent"), "validate", "-c", str(bad)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and r.stderr.strip() == f"config error: {bad}: probes.ping.bogus: unknown key"
