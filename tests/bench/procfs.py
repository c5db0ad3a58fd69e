"""CPU time and resident memory of a worker's own processes, read from ``/proc``.

A worker is a process tree: the JVM (``python -m consumer_app run`` execs it, so it keeps
the pid) and one record processor child per leased shard.  The emulators are not in it,
so these figures are the worker's cost alone, whatever the emulators spend.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields after the command name


def tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(int(st[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process (not of its children)."""
    st = _stat(pid)
    return None if st is None else (int(st[11]) + int(st[12])) / TICKS


def rss_mb(pid: int) -> float | None:
    st = _stat(pid)
    return None if st is None else int(st[21]) * PAGE / 1e6


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuSampler(threading.Thread):
    """Samples the CPU seconds of every process in some trees, so that a window's CPU can be
    told afterwards (a record processor that ends between two samples loses at most one
    interval of its CPU)."""

    def __init__(self, roots: list[int], every_s: float = 0.25) -> None:
        super().__init__(name="cpu-sampler", daemon=True)
        self.roots, self.every_s = roots, every_s
        self.samples: list[tuple[float, dict[int, float]]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.time()
            snap = {}
            for root in self.roots:
                for pid in tree(root):
                    c = cpu_seconds(pid)
                    if c is not None:
                        snap[pid] = c
            self.samples.append((now, snap))
            self._halt.wait(self.every_s)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def between(self, t0: float, t1: float) -> float:
        """CPU seconds all sampled processes used between two epoch times."""
        first: dict[int, float] = {}
        last: dict[int, float] = {}
        for t, snap in self.samples:
            for pid, c in snap.items():
                if t <= t0:
                    first[pid] = c
                if t <= t1:
                    last[pid] = c
        return sum(c - first.get(pid, 0.0) for pid, c in last.items())
