"""Real Alertmanagers for the tests: one, or N clustered over gossip on loopback, with a generated config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devstack import services as stack
from tests.support.services import need_binary


@dataclass
class AM:
    service: stack.Service
    port: int
    cluster_port: int | None
    workdir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def notifications_logged(am: AM) -> int:
    """How many notifications this member says it sent (``Notify success`` lines, debug level). Alertmanager
    records a notification in its notification log right after this line."""
    try:
        return am.service.logfile.read_text(errors="replace").count("Notify success")
    except OSError:
        return 0


def make_alertmanager(workdir: Path, config_text: str, *, port: int | None = None, cluster_port: int | None = None,
                      peers: tuple[int, ...] = ()) -> AM:
    """An Alertmanager (not started). Without ``cluster_port`` clustering is off; with it, it gossips with
    ``peers`` (their cluster ports) with short settle/timeouts suited to tests."""
    need_binary("prometheus-alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "alertmanager.yml"
    conf.write_text(config_text, encoding="utf-8")
    port = port or stack.free_port()
    argv = [stack.find_binary("prometheus-alertmanager"), f"--config.file={conf}",
            f"--storage.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=debug"]
    if cluster_port is None:
        argv.append("--cluster.listen-address=")
    else:
        argv += [f"--cluster.listen-address=127.0.0.1:{cluster_port}",
                 f"--cluster.advertise-address=127.0.0.1:{cluster_port}",
                 "--cluster.settle-timeout=5s", "--cluster.peer-timeout=3s",
                 "--cluster.gossip-interval=100ms", "--cluster.pushpull-interval=2s",
                 "--cluster.reconnect-interval=1s"]
        argv += [f"--cluster.peer=127.0.0.1:{p}" for p in peers]
    svc = stack.Service(f"alertmanager-{port}", argv, workdir, stack.http_ready(f"http://127.0.0.1:{port}/-/ready"))
    return AM(svc, port, cluster_port, workdir)


def start_alertmanager(workdir: Path, config_text: str) -> AM:
    am = make_alertmanager(workdir, config_text)
    am.service.start()
    return am


def start_cluster(root: Path, config_text: str, n: int = 2) -> list[AM]:
    """N clustered Alertmanagers on loopback, each peering with all others."""
    cports = [stack.free_port() for _ in range(n)]
    members = [make_alertmanager(root / f"am{i}", config_text, cluster_port=cports[i],
                                 peers=tuple(p for j, p in enumerate(cports) if j != i)) for i in range(n)]
    for m in members:
        m.service.start()
    return members
