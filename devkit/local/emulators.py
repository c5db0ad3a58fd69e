"""Start, probe and stop the two emulator servers.

kinesis-local (npm) speaks HTTP/1.1 and h2c with CBOR, which the KCL's Java Kinesis
client needs; the moto server handles everything KCL 3 asks of DynamoDB.  Both run as
child processes in their own process group so that stopping them never touches anything
else, and both bind loopback ports chosen by the caller (or free ones).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from consumer_app.procs import alive

REPO_ROOT = Path(__file__).resolve().parents[2]
KINESIS_LOCAL_DIR = REPO_ROOT / "node_modules" / "kinesis-local"


# On SIGTERM kinesis-local first waits for its clients' open connections to close (up to
# 30 s, measured) and only then writes its snapshot; killed earlier, it loses every record
# it accepted since its last periodic snapshot (every 5 s) and then reuses their sequence
# numbers.  A persistent kinesis-local therefore gets this long to stop.
KINESIS_PERSIST_STOP_S = 45.0


class EmulatorError(RuntimeError):
    pass


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _answers(url: str) -> bool:
    """Any HTTP answer (even an error status) means the server is up."""
    try:
        urllib.request.urlopen(url, timeout=1).close()
        return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Process:
    name: str
    pid: int
    port: int
    log: str


def start_kinesis(port: int, log_path: Path, persist_dir: Path | None = None) -> Process:
    """Start kinesis-local on ``port`` (plain HTTP; TLS on a second free port)."""
    main_js = KINESIS_LOCAL_DIR / "main.js"
    if not main_js.is_file():
        raise EmulatorError(f"kinesis-local is not installed ({main_js} missing): run `make setup`")
    env = dict(os.environ)
    env.update(
        KINESIS_MOCK_PLAIN_PORT=str(port),
        KINESIS_MOCK_TLS_PORT=str(free_port()),
        CREATE_STREAM_DURATION="0ms",
        DELETE_STREAM_DURATION="0ms",
        UPDATE_SHARD_COUNT_DURATION="200ms",
        SPLIT_SHARD_DURATION="200ms",
        MERGE_SHARDS_DURATION="200ms",
        LOG_LEVEL=os.environ.get("KINESIS_MOCK_LOG_LEVEL", "WARN"),
    )
    if persist_dir is not None:
        persist_dir.mkdir(parents=True, exist_ok=True)
        # absolute: kinesis-local resolves a relative path against its own directory
        env.update(SHOULD_PERSIST_DATA="true", PERSIST_PATH=str(persist_dir.resolve()))
    return _spawn("kinesis-local", ["node", str(main_js)], port, log_path, env, KINESIS_LOCAL_DIR)


def start_moto(port: int, log_path: Path) -> Process:
    """Start the moto DynamoDB server on 127.0.0.1:``port``, serialized (see dynamodb_server)."""
    cmd = [sys.executable, "-m", "devkit.local.dynamodb_server", "-p", str(port)]
    return _spawn("moto", cmd, port, log_path, None, REPO_ROOT)


def _spawn(
    name: str, cmd: list[str], port: int, log_path: Path, env: dict[str, str] | None, cwd: Path | None
) -> Process:
    if port_open(port):
        raise EmulatorError(f"{name}: port {port} is already in use")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
    return Process(name, proc.pid, port, str(log_path))


def wait_ready(proc: Process, timeout_s: float = 60.0) -> None:
    """Block until the server answers HTTP, or raise with the tail of its log."""
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{proc.port}/"
    while time.monotonic() < deadline:
        if not alive(proc.pid):
            raise EmulatorError(f"{proc.name} exited during start-up; log {proc.log}:\n{_tail(proc.log)}")
        if _answers(url):
            return
        time.sleep(0.2)
    raise EmulatorError(f"{proc.name} did not answer on port {proc.port} within {timeout_s:.0f}s")


def stop(pid: int, timeout_s: float = 10.0, port: int | None = None) -> bool:
    """Stop a server we started (its whole process group): SIGTERM, then SIGKILL.

    kinesis-local may ignore SIGTERM after heavy use (docs/design.md#kinesis-local), hence the firm second
    step; give a persistent one ``KINESIS_PERSIST_STOP_S`` so that it can write its snapshot.
    With ``port``, also wait until the port is released (it outlives the process briefly),
    so that a restart on the same port does not find it in use.  Returns whether it ended
    on SIGTERM (a killed kinesis-local wrote no snapshot).
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + (timeout_s if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            if not alive(pid):
                _wait_port_closed(port)
                return sig == signal.SIGTERM
            time.sleep(0.1)
    return False


def _wait_port_closed(port: int | None, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while port is not None and port_open(port) and time.monotonic() < deadline:
        time.sleep(0.05)


def _tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
