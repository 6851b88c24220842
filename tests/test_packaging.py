"""The base install is the agent's (commune PCs get none of the collector's libraries); the collector's
libraries are the ``collector`` extra, and the collector says so when they are missing."""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.agent.test_memory import usual_probes_config
from tests.support.paths import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
COLLECTOR_ONLY = ("aiohttp", "prometheus_client", "openpyxl", "docx", "fpdf", "grafana_client", "PIL", "niquests")

AGENT_RUN = """
import asyncio, json, sys
from agent.memory import defer_import; defer_import('urllib.request')
import agent.runner, agent.probes.ping, agent.probes.http, agent.probes.token, agent.probes.snmp
from agent.check import collect_once; from agent.config import load_config
from agent.cli import _parser; _parser()
from agent.probes.http import load_catalogue; assert load_catalogue('phutho')
asyncio.run(collect_once(load_config(sys.argv[1])))
print(json.dumps({n: getattr(m, '__file__', None) for n, m in sys.modules.items() if '.' not in n}))
"""


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(requirements: list[str]) -> set[str]:
    """The distributions ``requirements`` install, with their own requirements (markers that do not apply, and
    extras, left out)."""
    todo, seen = [_name(r) for r in requirements], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for req in md.requires(name) or []:
            marker = req.split(";", 1)[1] if ";" in req else ""
            if "extra" in marker or ("python_version < '3.11'" in marker):
                continue
            todo.append(_name(req))
    return seen


def test_the_base_dependencies_are_everything_the_running_agent_imports(tmp_path: Path) -> None:
    cfg = usual_probes_config(tmp_path)
    out = subprocess.run([sys.executable, "-c", AGENT_RUN, str(cfg)], capture_output=True, text=True, check=True,
                         timeout=120, cwd=REPO)
    files: dict[str, str | None] = json.loads(out.stdout)
    loaded = set(files)
    third_party = {m for m, f in files.items() if f and "site-packages" in Path(f).parts}
    base = _closure(PYPROJECT["dependencies"])
    owners = md.packages_distributions()
    missing = {m: owners.get(m) for m in third_party
               if not any(_name(d) in base for d in owners.get(m, []))}
    # the editable install's finder and setuptools' distutils shim are the venv's, not the agent's
    missing = {m: d for m, d in missing.items() if not m.startswith(("__editable__", "_distutils_hack"))}
    assert missing == {}, f"imported by the agent but not in the base dependencies: {missing}"
    assert {"msgspec", "yaml", "psutil", "icmplib"} <= third_party  # the check saw the agent's real imports
    assert not loaded & {*COLLECTOR_ONLY, "aiomqtt", "paho"}  # its MQTT client is common.mqtt_client


def test_the_collector_libraries_are_an_extra_the_base_install_does_not_bring() -> None:
    base = _closure(PYPROJECT["dependencies"])
    extra = {_name(r) for r in PYPROJECT["optional-dependencies"]["collector"]}
    assert {"aiohttp", "prometheus-client", "openpyxl", "python-docx", "fpdf2", "grafana-client"} <= extra
    assert not (extra | {"niquests", "urllib3-future", "pillow"}) & base


def test_the_collector_names_the_missing_extra(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['aiohttp'] = None\n"
            "from collector.cli import main; sys.exit(main(['run', '-c', sys.argv[1]]))\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "collector.yaml")], capture_output=True, text=True,
                       timeout=120, cwd=REPO)
    assert r.returncode == 2, r.stderr
    assert "commune-monitor[collector]" in r.stderr and "aiohttp" in r.stderr
    assert "Traceback" not in r.stderr
