"""The README's sample-report command, run as written (in bash, from a folder laid out like the checkout:
``.venv`` and the local stack's ``state/stack/collector.yaml``) against a real InfluxDB seeded with a known
month; its files hold that month's figures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import yaml

from devstack import services as stack
from tests.support import report_seed as seed
from tests.support.services import Influx

ROOT = Path(__file__).resolve().parents[2]


def readme_report_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^(\S*commune-collector report -c state/stack/collector\.yaml .*)$", text, re.MULTILINE)
    assert len(found) == 1, "the README shows one sample-report command"
    return found[0]


def test_run_sh_runs_the_readmes_line_and_survives_its_failure(tmp_path: Path) -> None:
    """scripts/run.sh runs the very line tested below; when it fails (here: no .venv, no stack), the block
    says so and run.sh (set -euo pipefail) goes on."""
    lines = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8").splitlines()
    command = readme_report_command()
    assert command in lines, "scripts/run.sh runs the README's sample-report line as written"
    start = lines.index(command) - 1
    end = next(i for i in range(start, len(lines)) if lines[i] == "fi")
    block = "\n".join(["set -euo pipefail", *lines[start:end + 1], "echo still-running"])
    done = subprocess.run(["bash", "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "the sample report could not be generated" in done.stdout and "still-running" in done.stdout


def test_readme_report_command_reports_the_local_stacks_month(influx_server: Influx, tmp_path: Path) -> None:
    db = f"stack_{uuid.uuid4().hex[:8]}"
    influx_server.create(db)
    seed.seed(influx_server.url, db)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    local = stack.LocalStack(checkout / "state", ports={**stack.DEFAULT_PORTS, "influx": influx_server.port,
                                                        "smtp": stack.free_port()})
    cfg_path, _ = local.write_configs()
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    cfg["influx"]["database"] = db  # the test's own database on the shared test server
    cfg["inventory"] = str(checkout / "state" / "stack" / "fleet-seed.yaml")
    (checkout / "state" / "stack" / "fleet-seed.yaml").write_text(yaml.safe_dump(seed.FLEET), encoding="utf-8")
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")

    env = {**os.environ, "MONTH": f"{seed.YEAR}-{seed.MONTH:02d}"}
    done = subprocess.run(["bash", "-c", readme_report_command()], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = checkout / "state" / "reports"
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"bao-cao-san-sang-2026-10.{ext}" for ext in ("docx", "html", "pdf", "xlsx")], names
    page = (out / "bao-cao-san-sang-2026-10.html").read_text(encoding="utf-8")
    assert "Phường Việt Trì" in page and "Phường Nông Trang" not in page  # --communes 07900
    # the holidays default to the alert calendar's: none in October 2026, so every weekday counts
    # (22 weekdays x 450 office minutes), unlike the seed's own test run with 2026-10-20 declared
    assert "9.900 phút" in page, re.findall(r"[\d.]+ phút", page)[:5]
