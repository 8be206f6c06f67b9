"""Small /proc readers: listening ports of a process, its sockets to a port, its descendants."""
from __future__ import annotations

import os


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def listening_ports(pid: int) -> list[int]:
    """TCP ports (v4 and v6) on which `pid` listens."""
    inodes, ports = _socket_inodes(pid), []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    if parts[3] == "0A" and parts[9] in inodes:  # 0A = LISTEN
                        ports.append(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return sorted(ports)


TCP_STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "04": "FIN_WAIT1", "05": "FIN_WAIT2", "09": "LAST_ACK", "0B": "CLOSING"}


def sockets_to(pids: list[int], port: int) -> list[dict]:
    """The TCP sockets the processes `pids` hold whose remote end is `port` (any address):
    one {"local_port", "state"} per socket."""
    inodes = set().union(*(_socket_inodes(p) for p in pids)) if pids else set()
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    if parts[9] in inodes and int(parts[2].rsplit(":", 1)[1], 16) == port:
                        found.append({"local_port": int(parts[1].rsplit(":", 1)[1], 16),
                                      "state": TCP_STATES.get(parts[3], parts[3])})
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
