"""The collector process's garbage-collector settings (run in a child process: they are process-wide)."""

from __future__ import annotations

import subprocess
import sys

from collector.gc_tuning import YOUNG_THRESHOLD


def test_tune_freezes_the_start_up_objects_and_collects_young_objects_less_often() -> None:
    code = ("import gc; from collector import gc_tuning; before = gc.get_threshold(); gc_tuning.tune(); "
            "print(gc.get_threshold()[0], gc.get_threshold()[1:] == before[1:], gc.get_freeze_count() > 1000)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == [str(YOUNG_THRESHOLD), "True", "True"]
