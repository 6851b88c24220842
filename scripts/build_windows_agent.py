#!/usr/bin/env python3
"""Build the Windows agent package: a zip a commune PC can install without knowing Python.

    python scripts/build_windows_agent.py --python-embed python-3.11.9-embed-amd64.zip --winsw WinSW-x64.exe \
        [--out dist/commune-agent-windows.zip]

Layout of the zip (unpacked to C:\\Program Files\\CommuneMonitor):
    python\\                       the official embeddable Python 3.11 (python.org "Windows embeddable package")
    python\\python311._pth         edited so it also imports lib\\ and the agent zipapp
    lib\\                          Windows wheels of the agent's dependencies (pip --platform win_amd64)
    commune-agent.pyz             the agent and common packages as a zipapp (python -m zipapp)
    commune-agent-service.exe     WinSW (service wrapper: restart on failure, log rotation, uninstall)
    commune-agent-service.xml     its config: runs the agent with %ProgramData%\\CommuneMonitor\\agent.yaml
    install.ps1, uninstall.ps1    what the Vietnamese guide (docs/windows-agent.vi.md) tells staff to run

The embeddable Python and WinSW are downloaded by the operator (python.org, github.com/winsw/winsw) and
given as files: this script fetches nothing but wheels from the package index. UNTESTED on Windows here;
tests/ansible/test_windows_package.py builds the package (without the two outside files) and runs the
zipapp on Linux.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipapp
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE_ID = "CommuneMonitorAgent"
# What `commune-agent run` imports (tests/test_packaging.py), pure-Python or with win_amd64 wheels on PyPI; scapy
# (traceroute, LAN sweep) needs Npcap on Windows: left out. The agent's MQTT client is common/mqtt_client.py.
WINDOWS_DEPS = ["msgspec>=0.18,<1", "pyyaml>=6,<7", "psutil>=5.9,<8", "icmplib>=3.0,<4", "python-pkcs11>=0.7,<0.10",
                "cryptography>=42,<47", "pysnmp>=7.1,<7.1.29"]

WINSW_XML = f"""<service>
  <id>{SERVICE_ID}</id>
  <name>Commune Monitor Agent</name>
  <description>Giám sát hạ tầng CNTT cấp xã (Commune Monitor agent)</description>
  <executable>%BASE%\\python\\python.exe</executable>
  <arguments>"%BASE%\\commune-agent.pyz" run -c "%ProgramData%\\CommuneMonitor\\agent.yaml" --state-dir "%ProgramData%\\CommuneMonitor\\state"</arguments>
  <workingdirectory>%ProgramData%\\CommuneMonitor</workingdirectory>
  <startmode>Automatic</startmode>
  <delayedAutoStart>true</delayedAutoStart>
  <stoptimeout>20 sec</stoptimeout>
  <onfailure action="restart" delay="10 sec"/>
  <onfailure action="restart" delay="30 sec"/>
  <onfailure action="restart" delay="60 sec"/>
  <resetfailure>1 hour</resetfailure>
  <logpath>%ProgramData%\\CommuneMonitor\\logs</logpath>
  <log mode="roll-by-size">
    <sizeThreshold>10240</sizeThreshold>
    <keepFiles>5</keepFiles>
  </log>
</service>
"""

INSTALL_PS1 = f"""# Run as Administrator from the unpacked folder: powershell -ExecutionPolicy Bypass -File install.ps1 -Bundle D:\\pc-xxx
param([Parameter(Mandatory=$true)][string]$Bundle)
$ErrorActionPreference = "Stop"
$dest = "C:\\Program Files\\CommuneMonitor"
$data = Join-Path $env:ProgramData "CommuneMonitor"
New-Item -ItemType Directory -Force -Path $dest, $data, (Join-Path $data "logs"), (Join-Path $data "state") | Out-Null
Copy-Item -Recurse -Force -Path (Join-Path $PSScriptRoot "*") -Destination $dest
foreach ($f in "agent.yaml", "agent.password", "ca.pem") {{
  $src = Join-Path $Bundle $f
  if (Test-Path $src) {{ Copy-Item -Force $src (Join-Path $data $f) }}
}}
# only Administrators and SYSTEM may read the password
icacls (Join-Path $data "agent.password") /inheritance:r /grant:r "Administrators:F" "SYSTEM:F" | Out-Null
& (Join-Path $dest "python\\python.exe") (Join-Path $dest "commune-agent.pyz") validate -c (Join-Path $data "agent.yaml")
if ($LASTEXITCODE -ne 0) {{ throw "agent.yaml is not valid" }}
& (Join-Path $dest "commune-agent-service.exe") install
& (Join-Path $dest "commune-agent-service.exe") start
Write-Host "Đã cài đặt và khởi động dịch vụ {SERVICE_ID}."
"""

UNINSTALL_PS1 = f"""# Run as Administrator: powershell -ExecutionPolicy Bypass -File uninstall.ps1 [-KeepData]
param([switch]$KeepData)
$dest = "C:\\Program Files\\CommuneMonitor"
& (Join-Path $dest "commune-agent-service.exe") stop
& (Join-Path $dest "commune-agent-service.exe") uninstall
if (-not $KeepData) {{ Remove-Item -Recurse -Force (Join-Path $env:ProgramData "CommuneMonitor") }}
Set-Location $env:TEMP
Remove-Item -Recurse -Force $dest
Write-Host "Đã gỡ dịch vụ {SERVICE_ID}."
"""


def build_pyz(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        for pkg in ("agent", "common"):
            shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (src / "__main__.py").write_text("import sys\n\nfrom agent.cli import main\n\nsys.exit(main())\n")
        zipapp.create_archive(src, target, compressed=True)


def build(out: Path, python_embed: Path | None, winsw: Path | None, wheels: bool) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "CommuneMonitor"
        stage.mkdir()
        build_pyz(stage / "commune-agent.pyz")
        (stage / "commune-agent-service.xml").write_text(WINSW_XML, encoding="utf-8")
        (stage / "install.ps1").write_text(INSTALL_PS1, encoding="utf-8-sig")  # BOM: PowerShell 5 reads UTF-8
        (stage / "uninstall.ps1").write_text(UNINSTALL_PS1, encoding="utf-8-sig")
        if python_embed:
            with zipfile.ZipFile(python_embed) as z:
                z.extractall(stage / "python")
            for pth in (stage / "python").glob("python3*._pth"):
                pth.write_text(pth.read_text() + "..\\lib\n..\\commune-agent.pyz\nimport site\n")
        if winsw:
            shutil.copyfile(winsw, stage / "commune-agent-service.exe")
        if wheels:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(stage / "lib"),
                            "--platform", "win_amd64", "--python-version", "3.11", "--only-binary=:all:",
                            *WINDOWS_DEPS], check=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(stage.rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(stage))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python-embed", type=Path, help="python-3.11.x-embed-amd64.zip from python.org")
    p.add_argument("--winsw", type=Path, help="WinSW-x64.exe (github.com/winsw/winsw releases)")
    p.add_argument("--no-wheels", action="store_true", help="leave out the dependencies (tests)")
    p.add_argument("--out", type=Path, default=ROOT / "dist" / "commune-agent-windows.zip")
    a = p.parse_args(argv)
    if not a.no_wheels and not (a.python_embed and a.winsw):
        p.error("a package for PCs needs --python-embed and --winsw (see docs/windows-agent.vi.md)")
    print(build(a.out, a.python_embed, a.winsw, not a.no_wheels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
