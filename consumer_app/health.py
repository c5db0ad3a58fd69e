"""Container health: the daemon is alive and every shard it processes made progress lately.

Each record processor keeps a heartbeat file ``<HEARTBEAT_DIR>/<shardId>.beat`` holding
its pid (and, on a second line, why its shard is blocked, if it is); it rewrites it per
batch, per idle poll (the daemon calls the processor on empty polls too) and per write
attempt, and removes it when the lease ends.  The launcher
writes ``daemon.pid`` (the pid the JVM keeps after the exec).  Healthy means: the daemon
process runs, and no live processor's heartbeat is older than HEALTH_MAX_AGE_SECONDS.  A
worker holding no lease (more workers than shards) is healthy: it is waiting, not stuck.
A blocked shard (its writes fail; docs/guarantees.md#a-shard-that-cannot-write) is healthy
too, and named in the report: replacing the task would stop its other shards and not
unblock this one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from consumer_app.procs import alive

DAEMON_PID = "daemon.pid"


def beat(directory: Path, shard_id: str, blocked: str | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{shard_id}.{os.getpid()}"
    tmp.write_text(f"{os.getpid()}\n{' '.join(blocked.split())}" if blocked else str(os.getpid()))
    tmp.replace(directory / f"{shard_id}.beat")  # atomic: the check never reads half a file


def read_beat(path: Path) -> tuple[int, str | None]:
    """A heartbeat file's pid and blocked reason (None: not blocked)."""
    pid, _, blocked = path.read_text().partition("\n")
    return int(pid), blocked or None


def stop_beating(directory: Path, shard_id: str) -> None:
    path = directory / f"{shard_id}.beat"
    with contextlib.suppress(OSError, ValueError):
        if read_beat(path)[0] == os.getpid():
            path.unlink()


def write_daemon_pid(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.beat"):  # from a previous run of this container
        stale.unlink(missing_ok=True)
    (directory / DAEMON_PID).write_text(str(os.getpid()))


@dataclass(frozen=True)
class Beat:
    shard: str
    pid_alive: bool
    age_s: float
    blocked: str | None = None


def decide(daemon_alive: bool, beats: list[Beat], max_age_s: float) -> tuple[bool, str]:
    """The health rule, pure: (healthy, one-line reason)."""
    if not daemon_alive:
        return False, "unhealthy: the MultiLangDaemon is not running"
    live = [b for b in beats if b.pid_alive]
    stale = [b for b in live if b.age_s > max_age_s]
    if stale:
        worst = max(stale, key=lambda b: b.age_s)
        return False, (f"unhealthy: {len(stale)} shard(s) without progress, {worst.shard} for "
                       f"{worst.age_s:.0f}s (limit {max_age_s:.0f}s)")
    if not live:
        return True, "healthy: daemon running, no shard leased yet"
    newest = min(b.age_s for b in live)
    reason = f"healthy: {len(live)} shard(s) processing, newest heartbeat {newest:.0f}s ago"
    blocked = sorted((b for b in live if b.blocked), key=lambda b: b.shard)
    if blocked:
        reason += f"; {len(blocked)} blocked, retrying the same records: " + "; ".join(
            f"{b.shard} ({b.blocked})" for b in blocked)
    return True, reason


def check(directory: Path, max_age_s: float, now: float | None = None) -> tuple[bool, str]:
    now = time.time() if now is None else now
    try:
        daemon_pid = int((directory / DAEMON_PID).read_text())
    except (OSError, ValueError):
        return False, f"unhealthy: no {directory / DAEMON_PID} (has the worker started?)"
    beats = []
    for path in directory.glob("*.beat"):
        with contextlib.suppress(OSError, ValueError):
            pid, blocked = read_beat(path)
            beats.append(Beat(path.stem, alive(pid), now - path.stat().st_mtime, blocked))
    return decide(alive(daemon_pid), beats, max_age_s)


def main() -> int:
    from consumer_app.settings import SettingsError, from_env

    try:
        settings = from_env()
    except SettingsError as exc:
        print(f"unhealthy: {exc}")
        return 1
    if not settings.heartbeat_dir:
        print("unhealthy: HEARTBEAT_DIR is not set, so progress cannot be checked")
        return 1
    ok, reason = check(Path(settings.heartbeat_dir), settings.health_max_age_seconds)
    print(reason)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
