"""Final windows against the real servers (kinesis-local + moto): the writer's refusals, the
watermark fence, the finalizer's passes (resharding included) and ``windows`` (docs/windows.md)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consumer_app.dynamo.attempts import AttemptRunner
from consumer_app.dynamo.watermarks import WatermarkStore
from consumer_app.finality import Finalizer
from consumer_app.rules.aggregation import CleanRecord, Position, aggregate
from consumer_app.rules.validation import Trip
from consumer_app.settings import Settings
from consumer_app.window_report import rows
from devkit.local import stack
from devkit.local.inspect import scan_all
from devkit.local.resources import ensure_all
from tests.integration.conftest import FAST_POLICY, Writers

pytestmark = pytest.mark.integration

BASE_MS = 1_764_230_400_000  # a window boundary
WIDTH_MS = 30_000


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.Stack]:
    with stack.running(tmp_path_factory.mktemp("final-windows"), shards=2) as st:
        yield st


def records(first_seq: int, arrivals: list[int], vendor: int = 1) -> list[CleanRecord]:
    return [CleanRecord(Position(first_seq + i), a, Trip(vendor, 2)) for i, a in enumerate(arrivals)]


def finalize(ddb: Any, table: str, vendor: int, window_start: str) -> None:
    ddb.update_item(TableName=table, Key={"vendorId": {"N": str(vendor)}, "windowStart": {"S": window_start}},
                    UpdateExpression="SET #f = :t, finalAt = :now",
                    ExpressionAttributeNames={"#f": "final"},
                    ExpressionAttributeValues={":t": {"BOOL": True}, ":now": {"S": "2025-11-27T08:01:00Z"}})


def item(ddb: Any, table: str, vendor: int, window_start: str) -> dict[str, Any]:
    key = {"vendorId": {"N": str(vendor)}, "windowStart": {"S": window_start}}
    return ddb.get_item(TableName=table, ConsistentRead=True, Key=key).get("Item", {})


def test_a_final_item_refuses_new_records_but_replays_pass_as_replays(ddb: Any,
                                                                     tables: tuple[str, str]) -> None:
    w = Writers(ddb, tables, "shardId-000000000000", FAST_POLICY)
    first = records(100, [BASE_MS + 1000, BASE_MS + 2000])
    w.aggregates.write(list(aggregate(first, 30).values()))
    finalize(ddb, tables[0], 1, "2025-11-27T08:00:00Z")
    before = item(ddb, tables[0], 1, "2025-11-27T08:00:00Z")

    replay = w.aggregates.write(list(aggregate(first, 30).values()))  # the fence skips it
    assert replay.refused == () and w.counters.skipped_replays == 2
    assert (replay.written, replay.replays_skipped) == (0, 2)

    late = records(100, [BASE_MS + 1000, BASE_MS + 2000, BASE_MS + 3000])  # one new record
    refused = w.aggregates.write(list(aggregate(late, 30).values())).refused
    assert [r[0] for c in refused for r in c.records] == [Position(102)]
    assert item(ddb, tables[0], 1, "2025-11-27T08:00:00Z") == before  # unchanged


def test_a_window_the_watermark_claimed_refuses_new_records_even_without_an_item(
        ddb: Any, tables: tuple[str, str]) -> None:
    w = Writers(ddb, tables, "shardId-000000000000", FAST_POLICY)
    w.aggregates.write(list(aggregate(records(100, [BASE_MS + 1000]), 30).values()))
    w.aggregates.claimed_through = BASE_MS + WIDTH_MS  # this shard published the window's end
    fresh = Writers(ddb, tables, "shardId-000000000000", FAST_POLICY)  # a restart: empty cache
    fresh.aggregates.claimed_through = BASE_MS + WIDTH_MS
    replay = fresh.aggregates.write(list(aggregate(records(100, [BASE_MS + 1000]), 30).values()))
    assert replay.refused == () and fresh.counters.skipped_replays == 1
    # vendor 2 never wrote this window: no item, and a record for it now is late
    late = fresh.aggregates.write(list(aggregate(records(101, [BASE_MS + 1500], vendor=2), 30).values()))
    assert [c.key.vendor_id for c in late.refused] == [2]
    assert item(ddb, tables[0], 2, "2025-11-27T08:00:00Z") == {}
    # the next window is not claimed: written as usual
    nxt = fresh.aggregates.write(list(aggregate(records(102, [BASE_MS + WIDTH_MS]), 30).values()))
    assert nxt.refused == () and nxt.written == 1
    assert item(ddb, tables[0], 1, "2025-11-27T08:00:30Z")["trips"] == {"N": "1"}


def test_a_watermark_never_moves_back_and_keeps_every_vendor(ddb: Any, tables: tuple[str, str]) -> None:
    table = f"{tables[0]}-watermarks"
    store = WatermarkStore(ddb, table)
    runner = Writers(ddb, tables, "s", FAST_POLICY).aggregates.runner
    assert store.publish(runner, "shardId-1", 5000, {1}, "10:0") == 5000
    assert store.publish(runner, "shardId-1", 4000, {3}, "8:0") == 5000  # a stale owner: refused
    assert store.publish(runner, "shardId-1", 6000, {2}, "12:0") == 6000
    assert store.read("shardId-1") == 6000
    assert store.publish(runner, "shardId-1", None, set(), "12:0", ended=True) is None
    published, vendors, through = store.scan()
    assert published["shardId-1"].watermark_ms == 6000 and published["shardId-1"].ended
    assert vendors == {1, 2} and through is None  # vendor 3 came with the refused publish only


def _settings(st: stack.Stack, aggregates: str, stream: str) -> Settings:
    return Settings(region=stack.REGION, stream_name=stream, aggregates_table=aggregates,
                    kinesis_endpoint=st.kinesis_url, dynamodb_endpoint=st.dynamodb_url)


def test_the_finalizer_finalizes_windows_once_every_shard_passed_them_resharding_included(
        backend: stack.Stack) -> None:
    ddb, kinesis = backend.client("dynamodb"), backend.client("kinesis")
    name = f"fin-{time.time_ns()}"
    ensure_all(kinesis, ddb, name, 2, name, f"{name}-rejects", f"{name}-watermarks")
    s = _settings(backend, name, name)
    fin = Finalizer(s, kinesis, ddb)
    shards = fin.shard_ids()
    runner = AttemptRunner(FAST_POLICY, Writers(ddb, (name, f"{name}-rejects"), "x", FAST_POLICY).counters,
                           Writers(ddb, (name, f"{name}-rejects"), "x", FAST_POLICY).pool)
    # three windows of vendor 1, written by both shards, as one item and as two sub-items
    for shard, seq in ((shards[0], 100), (shards[1], 200)):
        for sub in (1, 2):
            wr = Writers(ddb, (name, f"{name}-rejects"), shard, FAST_POLICY, sub_items=sub)
            arrivals = [BASE_MS + 5, BASE_MS + WIDTH_MS + 5, BASE_MS + 2 * WIDTH_MS + 5]
            wr.aggregates.write(list(aggregate(records(seq + 10 * sub, arrivals), 30).values()))
    assert fin.run_pass().finalized == 0  # no watermark at all yet
    store = fin.store
    store.publish(runner, shards[0], BASE_MS + 2 * WIDTH_MS + 10, {1}, "1:0")
    result = fin.run_pass()
    assert (result.finalized, result.progress.waiting_for) == (0, [shards[1]])  # shard 1 holds it back
    store.publish(runner, shards[1], BASE_MS + WIDTH_MS + 10, {1}, "1:0")
    result = fin.run_pass()
    assert result.finalized == 1 and result.through_ms == BASE_MS + WIDTH_MS
    assert [(r.window_start, r.final) for r in rows(scan_all(ddb, name))] == [
        ("2025-11-27T08:00:00Z", True), ("2025-11-27T08:00:30Z", False), ("2025-11-27T08:01:00Z", False)]

    # a split: shard 1 closes, its children exist at once and hold finality back
    kinesis.split_shard(StreamName=name, ShardToSplit=shards[1], NewStartingHashKey=str(2**127 + 2**126))
    deadline = time.monotonic() + 30
    while len(fin.shard_ids()) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    children = sorted(set(fin.shard_ids()) - set(shards))
    assert len(children) == 2
    store.publish(runner, shards[1], BASE_MS + 3 * WIDTH_MS, {1}, "2:0", ended=True)
    result = fin.run_pass()
    assert result.finalized == 0 and result.progress.waiting_for == children
    for child in children:
        store.publish(runner, child, BASE_MS + 3 * WIDTH_MS, set(), "1:0")
    result = fin.run_pass()  # the parent ended: only shard 0 and the children count
    assert result.finalized == 1 and result.through_ms == BASE_MS + 2 * WIDTH_MS
    assert all(r.final for r in rows(scan_all(ddb, name))[:2])
    assert fin.run_pass().finalized == 0  # idempotent: nothing new to finalize
    finalized_at = {it["windowStart"]["S"]: it["finalAt"]["S"]
                    for it in scan_all(ddb, name) if "finalAt" in it}
    # every item of those windows, sub-items included, and none of the next one
    assert set(finalized_at) == {f"{w}{sub}" for w in ("2025-11-27T08:00:00Z", "2025-11-27T08:00:30Z")
                              for sub in ("", "#0", "#1")}


def test_windows_command_lists_states_and_the_global_watermark(backend: stack.Stack, tmp_path: Path) -> None:
    ddb, kinesis = backend.client("dynamodb"), backend.client("kinesis")
    name = f"cli-{time.time_ns()}"
    ensure_all(kinesis, ddb, name, 1, name, f"{name}-rejects", f"{name}-watermarks")
    wr = Writers(ddb, (name, f"{name}-rejects"), "shardId-000000000000", FAST_POLICY)
    wr.aggregates.write(list(aggregate(records(1, [BASE_MS + 5, BASE_MS + WIDTH_MS + 5]), 30).values()))
    wr.aggregates.write(list(aggregate(records(10, [BASE_MS + 7], vendor=2), 30).values()))
    WatermarkStore(ddb, f"{name}-watermarks").publish(wr.aggregates.runner, "shardId-000000000000",
                                                      BASE_MS + WIDTH_MS + 100, {1, 2}, "11:0")
    env = {**os.environ, **backend.env(), "STREAM_NAME": name, "AGGREGATES_TABLE": name}

    def windows(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "consumer_app", "windows", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    before = json.loads(windows("--json").stdout)
    assert before["globalWatermark"] == "2025-11-27T08:00:30Z" and before["finalThrough"] is None
    assert [w["final"] for w in before["windows"]] == [False, False, False]
    subprocess.run([sys.executable, "-m", "consumer_app", "finalize", "--once"], env=env, check=True,
                   capture_output=True, timeout=60)
    doc = json.loads(windows("--json").stdout)
    assert doc["finalThrough"] == "2025-11-27T08:00:30Z"
    assert [(w["vendor_id"], w["window_start"], w["trips"], w["final"]) for w in doc["windows"]] == [
        (1, "2025-11-27T08:00:00Z", 1, True), (2, "2025-11-27T08:00:00Z", 1, True),
        (1, "2025-11-27T08:00:30Z", 1, False)]
    only = json.loads(windows("--json", "--final-only", "--vendor", "2").stdout)["windows"]
    assert [(w["vendor_id"], w["final"]) for w in only] == [(2, True)]
    text = windows("--since", "2025-11-27T08:00:30Z")
    lines = text.stdout.splitlines()
    assert text.returncode == 0 and len(lines) == 3 and lines[1].split()[4] == "open"  # header, row, summary
    assert "global watermark 2025-11-27T08:00:30Z" in text.stdout
    bad = windows("--since", "yesterday")
    assert bad.returncode == 2 and "not an ISO-8601 UTC time" in bad.stderr


def test_a_polling_finalizer_does_not_hold_a_stopping_kinesis_local(tmp_path: Path) -> None:
    """kinesis-local drains its connections before it writes its snapshot and exits; a
    keep-alive connection used every second never drains.  The finalizer's calls each use
    their own connection, so the emulator stops as it does with no client at all."""
    import threading

    from devkit.local import emulators

    st = stack.private_stack(tmp_path, shards=1)
    st.start(persist=True)
    stop = threading.Event()
    try:
        s = _settings(st, st.aggregates_table, st.stream)
        fin = Finalizer(s, st.client("kinesis"), st.client("dynamodb"))

        def poll() -> None:
            while not stop.is_set():
                with contextlib.suppress(Exception):
                    fin.shard_ids()
                stop.wait(0.2)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        time.sleep(1.0)
        started = time.monotonic()
        os.killpg(st.kinesis_pid or 0, signal.SIGTERM)
        while emulators.alive(st.kinesis_pid or 0) and time.monotonic() - started < 20:
            time.sleep(0.1)
        took = time.monotonic() - started
        assert not emulators.alive(st.kinesis_pid or 0), f"kinesis-local still running after {took:.0f} s"
    finally:
        stop.set()
        st.stop()
