"""Fixtures: real emulator servers on free loopback ports, started and stopped by the tests."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from consumer_app.counters import ShardCounters
from consumer_app.dynamo.aggregates import AggregateWriter
from consumer_app.dynamo.attempts import AttemptRunner
from consumer_app.dynamo.rejects import RejectWriter
from consumer_app.rules.retry import RetryPolicy
from consumer_app.tables import AGGREGATES, REJECTS, WATERMARKS, watermarks_table_for
from devkit.local import emulators, stack
from devkit.local.fault_proxy import FaultProxy
from devkit.local.resources import ensure_table

_names = itertools.count(1)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulators.Process]:
    port = emulators.free_port()
    proc = emulators.start_moto(port, tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        emulators.wait_ready(proc)
        yield proc
    finally:
        emulators.stop(proc.pid)


def client_for(url: str, retries: int = 1) -> Any:
    return boto3.client("dynamodb", endpoint_url=url, region_name=stack.REGION,
                        aws_access_key_id=stack.ACCESS_KEY, aws_secret_access_key=stack.SECRET_KEY,
                        config=Config(retries={"mode": "standard", "total_max_attempts": retries},
                                      connect_timeout=2, read_timeout=5, max_pool_connections=20))


@pytest.fixture(scope="session")
def ddb(moto: emulators.Process) -> Any:
    """A client straight to moto (with retries: for setup and checks)."""
    return client_for(f"http://127.0.0.1:{moto.port}", retries=3)


@pytest.fixture
def tables(ddb: Any) -> tuple[str, str]:
    """Fresh aggregates and rejects tables for one test (and the aggregates' watermarks
    table, under the name a worker derives: ``<aggregates>-watermarks``)."""
    n = next(_names)
    aggs, rejects = f"aggs-{os.getpid()}-{n}", f"rejects-{os.getpid()}-{n}"
    ensure_table(ddb, aggs, AGGREGATES)
    ensure_table(ddb, rejects, REJECTS)
    ensure_table(ddb, watermarks_table_for(aggs), WATERMARKS)
    return aggs, rejects


@pytest.fixture
def proxy(moto: emulators.Process) -> Iterator[FaultProxy]:
    p = FaultProxy(moto.port).start()
    try:
        yield p
    finally:
        p.stop()


class Writers:
    """An aggregates and a rejects writer for one shard, as the processor builds them."""

    def __init__(self, client: Any, tables: tuple[str, str], shard: str, policy: RetryPolicy,
                 window_seconds: int = 30, sub_items: int = 1) -> None:
        self.counters = ShardCounters()
        self.pool = ThreadPoolExecutor(4)
        self.sleeps: list[float] = []
        runner = AttemptRunner(policy, self.counters, self.pool, sleep=self.sleeps.append)
        self.aggregates = AggregateWriter(client, tables[0], shard, window_seconds, runner,
                                          sub_items=sub_items)
        self.rejects = RejectWriter(client, tables[1], shard, runner, ttl_days=14, payload_max_bytes=256)


FAST_POLICY = RetryPolicy(max_attempts=8, max_elapsed_s=30, base_delay_s=0.001, max_delay_s=0.01)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
