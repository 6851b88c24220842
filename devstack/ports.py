"""Who listens on a local TCP port: /proc/net/tcp{,6} (LISTEN sockets) -> socket inode -> /proc/<pid>/fd."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"


@dataclass(frozen=True)
class Holder:
    port: int
    pid: int | None
    """None: the socket is there but its process is not visible to us (another user's, without root)."""
    name: str = ""

    def describe(self) -> str:
        if self.pid is None:
            return f"port {self.port} is in use by a process this user cannot see"
        return f"port {self.port} is in use by {self.name or 'a process'} (pid {self.pid})"


def _listen_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == _LISTEN and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    return inodes


def listening_pids(port: int) -> set[int] | None:
    """The pids holding a listening socket on ``port``; None if nothing listens; an empty set if something
    listens but its process cannot be seen."""
    inodes = _listen_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    pids: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                try:
                    if str(fd.readlink()) in wanted:
                        pids.add(int(proc.name))
                        break
                except OSError:
                    continue
        except OSError:
            continue
    return pids


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def holder(port: int) -> Holder | None:
    """Who holds ``port`` on 127.0.0.1 (listening, or bound so that we could not bind it); None if it is free."""
    pids = listening_pids(port)
    if pids is None:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return None
            except OSError:
                return Holder(port, None)
    pid = min(pids) if pids else None
    return Holder(port, pid, process_name(pid) if pid else "")


def owned_by(port: int, pid: int) -> bool | None:
    """Is ``pid`` (or one of its children) the process listening on ``port``? None if that cannot be told."""
    pids = listening_pids(port)
    if pids is None:
        return False
    if not pids:
        return None
    return any(p == pid or _parent(p) == pid for p in pids)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
