"""Agent footprint: steady RSS and CPU of the real agent (host + ping + http every 10 s, publishing to a real
Mosquitto/collector/InfluxDB) beside a bare ``python3`` that only imports psutil and sleeps, same run.

    python -m bench.agent_footprint [--seconds 120] [--interval 10]
"""

from __future__ import annotations

import argparse
import http.server
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import yaml

from bench.common import sample, start_ministack
from devstack import services as stack


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a: object) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--interval", default="10s")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cm-bench-"))
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    ms = start_ministack(root, {"bench-agent": {"commune": "07900", "site": "main"}})
    cfg = {"agent": {"id": "bench-agent"}, "mqtt": {"port": ms.mqtt_port},
           "probes": {"host": {"interval": args.interval},
                      "ping": {"interval": args.interval, "targets": [{"host": "127.0.0.1"}]},
                      "http": {"interval": args.interval,
                               "targets": [{"name": "local", "url": f"http://127.0.0.1:{web.server_address[1]}/"}]}}}
    (root / "agent.yaml").write_text(yaml.safe_dump(cfg))
    agent = stack.python_service("agent", root / "agent", ["agent.cli", "run", "-c", str(root / "agent.yaml"),
                                                           "--state-dir", str(root / "agent")], lambda: True)
    ref = subprocess.Popen([sys.executable, "-c", "import psutil, time; time.sleep(10**6)"])
    try:
        pid = agent.start()
        results: dict[str, object] = {}

        def run(name: str, p: int) -> None:
            results[name] = sample(p, args.seconds)

        threads = [threading.Thread(target=run, args=("agent", pid)), threading.Thread(target=run, args=("ref", ref.pid))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        a, r = results["agent"], results["ref"]
        stored = ms.count("host", "cpu_percent")
        print(f"window {args.seconds:.0f}s, probe interval {args.interval}; host points stored: {stored}")
        print(f"{'process':28} {'RSS median MB':>14} {'RSS max MB':>11} {'CPU %':>7}")
        print(f"{'agent':28} {a.rss_mb_median:14.1f} {a.rss_mb_max:11.1f} {a.cpu_percent:7.2f}")  # type: ignore[attr-defined]
        print(f"{'python3 + psutil, sleeping':28} {r.rss_mb_median:14.1f} {r.rss_mb_max:11.1f} {r.cpu_percent:7.2f}")  # type: ignore[attr-defined]
        print(f"ratio agent/reference RSS: {a.rss_mb_median / r.rss_mb_median:.2f}x")  # type: ignore[attr-defined]
    finally:
        ref.kill()
        agent.stop()
        ms.stop()
        web.shutdown()


if __name__ == "__main__":
    main()
