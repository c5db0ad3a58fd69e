"""Run KCL workers as child processes, like a container supervisor would.

Each worker is ``python -m consumer_app run`` (which execs the JVM) in its own process
group, its stdout (daemon log) and stderr (processor JSON lines) in files.  With
``restart=True`` a worker that exits non-zero is started again, as ``docker run
--restart on-failure`` or ECS would: that restart is what makes "the same payload is
retried until it succeeds" true after a write failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: What marks a line of a worker's logs as an error: the daemon's logback level, the
#: processor's JSON level, and the start-up checks' own prefix.
_ERROR_MARKS = (b" ERROR ", b'"level":"ERROR"', b'"level":"CRITICAL"', b"worker: cannot start")


class WorkerDied(RuntimeError):
    """A worker ended without being stopped and will not be started again."""


@dataclass
class Worker:
    name: str
    env: dict[str, str]
    log_dir: Path
    restart: bool = True
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    exits: list[int] = field(default_factory=list)
    stopping: bool = False
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "consumer_app", "run"])

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"{self.name}.out.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"{self.name}.err.log"

    @property
    def health_dir(self) -> Path:
        return self.log_dir / f"{self.name}.health"

    def healthy(self, max_age_s: float = 180) -> bool:
        """What the container health check would answer for this worker."""
        from consumer_app import health

        return health.check(self.health_dir, max_age_s)[0]

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        run_dir = self.log_dir / f"{self.name}.run"
        env = {**self.env, "WORKER_ID": self.name, "KCL_RUN_DIR": str(run_dir),
               "HEARTBEAT_DIR": str(self.health_dir)}
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                self.command, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                cwd=Path(__file__).resolve().parents[2],
            )

    def poll(self) -> int | None:
        """Reap an exit; restart after a failure if supervised.  Returns the exit code seen."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None:
            return None
        self.exits.append(code)
        self.proc = None
        if self.restart and not self.stopping and code != 0:
            time.sleep(1.0)
            self.start()
        return code

    def vanished(self) -> int | None:
        """The exit code of a worker that ended by itself for good (None: running, stopped or
        about to be restarted).  Exit 0 counts too: only a stop it was asked for is normal."""
        if self.proc is not None or self.stopping or not self.exits:
            return None
        code = self.exits[-1]
        return code if (code == 0 or not self.restart) else None

    def last_error(self) -> str:
        """The last error line of its daemon log or its processors' log, for a failure message."""
        last = b""
        for path in (self.stdout_path, self.stderr_path):
            try:
                with open(path, "rb") as f:
                    for raw in f:
                        if any(m in raw for m in _ERROR_MARKS):
                            last = raw
            except OSError:
                continue
        return last.decode(errors="replace").strip()[:500] or "(no error line in its logs)"

    def terminate(self) -> None:
        """SIGTERM to the JVM only (as docker stop does to PID 1): a graceful shutdown."""
        self.stopping = True
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int | None:
        if self.proc is None:
            return self.exits[-1] if self.exits else None
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
        self.exits.append(code)
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL the whole group (JVM and record processors): a crash, or final cleanup."""
        self.stopping = True
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            self.proc = None

    def events(self) -> Iterator[dict[str, Any]]:
        """The processor's JSON log lines so far."""
        try:
            with open(self.stderr_path, "rb") as f:
                for raw in f:
                    if raw.startswith(b"{"):
                        with contextlib.suppress(ValueError):
                            yield json.loads(raw)
        except OSError:
            return


class Supervisor:
    """Keeps a set of workers running (restart on failure) from a background thread."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = list(workers)  # its own list: callers add through add()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)

    def __enter__(self) -> Supervisor:
        for w in self.workers:
            w.start()
        self._thread.start()
        return self

    def add(self, worker: Worker) -> None:
        """Start one more worker and keep it running too (scale out)."""
        self.workers.append(worker)
        worker.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            for w in self.workers:
                w.poll()

    def check(self) -> None:
        """Raise :class:`WorkerDied` for a worker that ended unexpectedly, naming it and its
        last error line, so that a test or scenario fails at once instead of at a timeout."""
        for w in list(self.workers):  # the supervisor's thread alone reaps and restarts
            code = w.vanished()
            if code is not None:
                raise WorkerDied(f"worker {w.name} exited with status {code} without being "
                                 f"stopped; last error: {w.last_error()} (logs: {w.stdout_path})")

    def stop_gracefully(self, timeout_s: float) -> dict[str, int | None]:
        """SIGTERM every worker, wait for each; returns exit codes (None: had to be killed)."""
        self._stop.set()
        self._thread.join(5)
        for w in self.workers:
            w.terminate()
        codes = {}
        for w in self.workers:
            codes[w.name] = w.wait(timeout_s)
            if codes[w.name] is None:
                w.kill()
        return codes

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for w in self.workers:
            w.kill()  # the whole process group: the JVM and its record processors


def finalizer(env: Mapping[str, str], log_dir: Path, name: str = "finalizer") -> Worker:
    """``python -m consumer_app finalize`` supervised like a worker (docs/windows.md)."""
    return Worker(name, dict(env), log_dir,
                  command=[sys.executable, "-m", "consumer_app", "finalize"])


def worker_env(base: Mapping[str, str], application: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KCL_"))}
    env.update(base)
    env["APPLICATION_NAME"] = application
    env.update(extra)
    return env
