"""A local backend: kinesis-local + moto on loopback, the stream and both tables.

Used three ways: ``local up|down|status`` (state in ``.local/``, survives the command),
``make demo`` and the tests (a private stack on free ports, stopped at the end).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from consumer_app.settings import DEFAULT_STREAM
from consumer_app.tables import watermarks_table_for
from devkit.local import emulators
from devkit.local.resources import ensure_all

REGION = "us-east-1"
# Dummy credentials: the emulators accept any; real AWS would refuse them.
ACCESS_KEY = "local"
SECRET_KEY = "local"


@dataclass
class Stack:
    kinesis_port: int
    dynamodb_port: int
    kinesis_pid: int | None = None
    dynamodb_pid: int | None = None
    stream: str = DEFAULT_STREAM
    shards: int = 4
    aggregates_table: str = "kinesisAggs"
    rejects_table: str = "kinesisAggs-rejects"
    log_dir: str = ".local"
    persist: bool = False  # kinesis-local keeps its data in <log_dir>/kinesis-data

    @property
    def watermarks_table(self) -> str:
        """The name a worker derives when WATERMARKS_TABLE is not set."""
        return watermarks_table_for(self.aggregates_table)

    @property
    def kinesis_url(self) -> str:
        return f"http://127.0.0.1:{self.kinesis_port}"

    @property
    def dynamodb_url(self) -> str:
        return f"http://127.0.0.1:{self.dynamodb_port}"

    def env(self) -> dict[str, str]:
        """Every variable a worker, the producer or boto3 needs to use this stack."""
        return {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL_KINESIS": self.kinesis_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
            "KCL_PROFILE": "local",
            "STREAM_NAME": self.stream,
            "AGGREGATES_TABLE": self.aggregates_table,
            "REJECTS_TABLE": self.rejects_table,
        }

    def client(self, service: str, url: str | None = None) -> Any:
        """A boto3 client of this stack (``url``: reach it another way, a proxy say)."""
        url = url or (self.kinesis_url if service == "kinesis" else self.dynamodb_url)
        return boto3.client(service, endpoint_url=url, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(retries={"mode": "standard", "max_attempts": 5}))

    def running(self) -> dict[str, bool]:
        return {
            "kinesis-local": bool(self.kinesis_pid) and emulators.alive(self.kinesis_pid or 0)
            and emulators.port_open(self.kinesis_port),
            "moto": bool(self.dynamodb_pid) and emulators.alive(self.dynamodb_pid or 0)
            and emulators.port_open(self.dynamodb_port),
        }

    def start(self, persist: bool = False) -> None:
        """Start whichever emulator is not running, wait for both, create the resources."""
        logs = Path(self.log_dir)
        up = self.running()
        if not up["kinesis-local"]:
            self.persist = persist
            self._start_kinesis(logs / "kinesis-local.log")
        if not up["moto"]:
            proc = emulators.start_moto(self.dynamodb_port, logs / "moto.log")
            self.dynamodb_pid = proc.pid
            emulators.wait_ready(proc)
        ensure_all(self.client("kinesis"), self.client("dynamodb"), self.stream, self.shards,
                   self.aggregates_table, self.rejects_table, self.watermarks_table)

    def _start_kinesis(self, log: Path) -> emulators.Process:
        data = Path(self.log_dir) / "kinesis-data" if self.persist else None
        proc = emulators.start_kinesis(self.kinesis_port, log, data)
        self.kinesis_pid = proc.pid
        emulators.wait_ready(proc)
        return proc

    def _stop_kinesis(self) -> bool:
        """Stop kinesis-local; False if it had to be killed (with persistence: no snapshot)."""
        graceful = True
        if self.kinesis_pid:
            # in memory only, there is nothing to save: don't wait for its connection drain
            graceful = emulators.stop(self.kinesis_pid,
                                      emulators.KINESIS_PERSIST_STOP_S if self.persist else 1.0,
                                      port=self.kinesis_port)
        self.kinesis_pid = None
        return graceful

    def restart_kinesis(self, log: Path) -> bool:
        """Stop kinesis-local as ``docker stop`` would and start it again on the same port.

        With persistence it reloads the stream from its snapshot; without, the stream is gone.
        Returns whether it stopped on SIGTERM (False: it was killed, so a persistent one lost
        what it acknowledged since its last periodic snapshot).
        """
        graceful = self._stop_kinesis()
        self._start_kinesis(log)
        return graceful

    def stop(self) -> None:
        self._stop_kinesis()
        if self.dynamodb_pid:
            emulators.stop(self.dynamodb_pid)
        self.dynamodb_pid = None


def private_stack(log_dir: Path, shards: int = 4) -> Stack:
    """A stack on free ports, for the demo and the tests."""
    return Stack(kinesis_port=emulators.free_port(), dynamodb_port=emulators.free_port(),
                 shards=shards, log_dir=str(log_dir))


@contextlib.contextmanager
def running(log_dir: Path, shards: int = 4) -> Iterator[Stack]:
    """A private stack, started, and stopped again however the block ends (tests, benches)."""
    st = private_stack(log_dir, shards)
    try:
        st.start()
        yield st
    finally:
        st.stop()


# -- the persistent stack of `local up|down|status` ---------------------------------------
STATE_DIR = Path(os.environ.get("LOCAL_STATE_DIR", ".local"))
STATE_FILE = STATE_DIR / "stack.json"


def load() -> Stack | None:
    try:
        return Stack(**json.loads(STATE_FILE.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def save(stack: Stack) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps(asdict(stack), indent=2))


def export_lines(env: dict[str, str]) -> str:
    import shlex

    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
