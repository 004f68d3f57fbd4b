"""What the bench reads from /proc: CPU seconds and resident memory of processes and their
children (a server's workers), and a wait for the machine to go quiet after a burst."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its direct children (a server and its workers)."""
    return sum(cpu_seconds(p) for p in (pid, *children(pid)))


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory in MB; `field="RssAnon"`: only its anonymous part (heap, stacks), without
    the file pages a process maps (SQLite's database, a search index's segments), which the
    kernel can drop."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_of(pids: Mapping[str, int]) -> dict[str, float]:
    return {name: tree_cpu(pid) for name, pid in pids.items()}


def wait_quiet(sample: Callable[[], Mapping[str, float]], *, below: float = 0.1, step: float = 0.5,
               limit: float = 20.0) -> None:
    """Until the processes together use less than `below` of one core over `step` seconds (the
    consumers have applied the events a burst of writes caused), at most `limit` seconds."""
    deadline = time.monotonic() + limit
    last = sum(sample().values())
    while time.monotonic() < deadline:
        time.sleep(step)
        now = sum(sample().values())
        if now - last < below * step:
            return
        last = now
