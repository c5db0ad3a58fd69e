"""Suite-wide guard: tests start their own servers and workers, and must leave none behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = _descendants(os.getpid())
    if not left:
        return
    names = []
    for pid in left:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
            names.append(f"{pid}: {cmdline.decode(errors='replace')}")
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
    if names:
        writer = session.config.get_terminal_writer()
        writer.line("processes left behind by the tests:\n  " + "\n  ".join(names))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
