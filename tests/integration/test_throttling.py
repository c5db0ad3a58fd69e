"""Throttling through a fault-injecting proxy in front of moto, via real botocore.

Covers docs/design.md#retries: all writes throttled -> back off and retry all; some throttled -> retry
only those; budget spent -> WriteFailed, and a later run completes without double counts.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from consumer_app import processor
from consumer_app.dynamo.errors import WriteFailed
from consumer_app.dynamo.lease_table import create_table_kwargs
from consumer_app.processor import TripRecordProcessor
from consumer_app.rules.aggregation import aggregate
from consumer_app.rules.retry import RetryPolicy
from consumer_app.settings import Settings
from devkit.local import stack
from devkit.local.fault_proxy import PASS, Action
from devkit.local.inspect import scan_all
from tests.integration.conftest import FAST_POLICY, Writers, client_for
from tests.support.dynamo import expected_totals, make_rejects, shard_records, table_totals
from tests.support.kcl import Input, Record
from tests.support.trips import trip_bytes

pytestmark = pytest.mark.integration


def contributions(recs: list[Any]) -> list[Any]:
    return list(aggregate(recs, 30).values())


def test_all_throttled_then_recovered(proxy: Any, ddb: Any, tables: tuple[str, str]) -> None:
    recs = shard_records(200, seed=21)
    batch = contributions(recs)
    assert len(batch) >= 3
    # the first two attempts: every UpdateItem throttled; then all pass
    n_items = len(batch)
    proxy.set_rule(lambda op, body, n: Action("throttle")
                   if op == "UpdateItem" and n <= 2 * n_items else PASS)
    w = Writers(client_for(proxy.url), tables, "shardId-000000000000", FAST_POLICY)
    w.aggregates.write(batch)
    assert table_totals(ddb, tables[0]) == expected_totals(recs)
    assert w.counters.all_failed == 2 and w.counters.some_failed == 0
    assert w.counters.throttled_writes == 2 * n_items
    assert w.counters.retries == 2 and len(w.sleeps) == 2
    assert proxy.stats.calls["UpdateItem"] == 3 * n_items  # every write retried, each applied once


def test_some_throttled_retries_only_those(proxy: Any, ddb: Any, tables: tuple[str, str]) -> None:
    recs = shard_records(300, seed=22, spacing_ms=150)  # two windows, three vendors
    batch = contributions(recs)
    n_items = len(batch)
    assert n_items >= 4
    # every other UpdateItem is throttled, whatever it is
    proxy.set_rule(lambda op, body, n: Action("throttle", code="ThrottlingException")
                   if op == "UpdateItem" and n % 2 == 0 else PASS)
    w = Writers(client_for(proxy.url), tables, "shardId-000000000001", FAST_POLICY)
    w.aggregates.write(batch)
    assert table_totals(ddb, tables[0]) == expected_totals(recs)
    assert w.counters.some_failed >= 1  # the first attempt: half of the writes refused
    # only failed writes were sent again: calls = items + throttled ones
    assert proxy.stats.calls["UpdateItem"] == n_items + w.counters.throttled_writes


def test_budget_spent_raises_and_nothing_is_lost_or_doubled(proxy: Any, ddb: Any,
                                                            tables: tuple[str, str]) -> None:
    recs = shard_records(300, seed=23)
    first, second = recs[:150], recs[150:]
    url = proxy.url
    w = Writers(client_for(url), tables, "shardId-000000000002", FAST_POLICY)
    w.aggregates.write(contributions(first))
    # now DynamoDB refuses every other write, forever: some writes land, the rest never do
    proxy.set_rule(lambda op, body, n: Action("throttle") if op == "UpdateItem" and n % 2 == 1 else PASS)
    small = RetryPolicy(max_attempts=3, max_elapsed_s=10, base_delay_s=0.001, max_delay_s=0.002)
    w2 = Writers(client_for(url), tables, "shardId-000000000002", small)
    with pytest.raises(WriteFailed, match="retry budget spent"):
        for i in range(0, len(second), 50):
            w2.aggregates.write(contributions(second[i:i + 50]))
    # the child would exit without checkpoint; after the restart the batch comes again
    proxy.set_rule(None)
    w3 = Writers(client_for(url), tables, "shardId-000000000002", FAST_POLICY)
    for i in range(0, len(second), 50):
        w3.aggregates.write(contributions(second[i:i + 50]))
    assert table_totals(ddb, tables[0]) == expected_totals(recs)


def test_answer_lost_after_write_applied(proxy: Any, ddb: Any, tables: tuple[str, str]) -> None:
    """The write happened but the connection died: the retry is refused by the fence."""
    recs = shard_records(120, seed=24)
    batch = contributions(recs)
    proxy.set_rule(lambda op, body, n: Action("drop_after_apply") if op == "UpdateItem" and n == 1 else PASS)
    w = Writers(client_for(proxy.url), tables, "shardId-000000000003", FAST_POLICY)
    w.aggregates.write(batch)
    assert proxy.stats.injected["drop_after_apply"] == 1
    assert table_totals(ddb, tables[0]) == expected_totals(recs)
    assert w.counters.skipped_replays > 0  # the retried contribution was found already applied


def test_outage_then_recovery(proxy: Any, ddb: Any, tables: tuple[str, str]) -> None:
    recs = shard_records(100, seed=25)
    proxy.set_rule(lambda op, body, n: Action("outage") if n <= 3 else PASS)
    w = Writers(client_for(proxy.url), tables, "shardId-000000000004", FAST_POLICY)
    w.aggregates.write(contributions(recs))
    assert table_totals(ddb, tables[0]) == expected_totals(recs)
    assert w.counters.retries >= 1


def test_fatal_error_is_not_retried(proxy: Any, tables: tuple[str, str]) -> None:
    w = Writers(client_for(proxy.url), ("no-such-table", tables[1]), "shardId-000000000005", FAST_POLICY)
    with pytest.raises(WriteFailed, match=r"fatal.*ResourceNotFoundException"):
        w.aggregates.write(contributions(shard_records(20, seed=26)))
    assert w.counters.retries == 0


def test_rejects_unprocessed_items_retried_alone(proxy: Any, ddb: Any, tables: tuple[str, str]) -> None:
    rejects = make_rejects(60)
    # first call of each chunk: only even entries processed; later calls: everything
    seen: dict[str, int] = {}

    def rule(op: str, body: dict[str, Any], n: int) -> Action:
        if op != "BatchWriteItem":
            return PASS
        first_key = next(iter(body["RequestItems"].values()))[0]["PutRequest"]["Item"]["sequence"]["S"]
        seen[first_key] = seen.get(first_key, 0) + 1
        return Action("unprocessed", keep=lambda i: i % 2 == 0) if seen[first_key] == 1 else PASS

    proxy.set_rule(rule)
    w = Writers(client_for(proxy.url), tables, "shardId-000000000006", FAST_POLICY)
    w.rejects.write(rejects)
    assert len(scan_all(ddb, tables[1])) == 60
    assert w.counters.some_failed >= 1 and w.counters.all_failed == 0
    assert proxy.stats.forwarded_items == 60  # each entry written exactly once
    assert w.counters.reject_writes == 60


def test_rejects_whole_call_throttled(proxy: Any, ddb: Any, tables: tuple[str, str]) -> None:
    proxy.set_rule(lambda op, body, n: Action("throttle") if op == "BatchWriteItem" and n <= 3 else PASS)
    w = Writers(client_for(proxy.url), tables, "shardId-000000000007", FAST_POLICY)
    w.rejects.write(make_rejects(30))  # two chunks: 25 + 5
    assert len(scan_all(ddb, tables[1])) == 30
    assert w.counters.all_failed >= 1


# -- a shard whose writes fail for good, through a real record processor ------------------
class _Init:
    def __init__(self, shard_id: str) -> None:
        self.shard_id, self.sequence_number, self.sub_sequence_number = shard_id, "TRIM_HORIZON", None


def _blocked_processor(proxy: Any, ddb: Any, tables: tuple[str, str], owner: list[str],
                       sleeps: list[float], lift_after: int | None) -> TripRecordProcessor:
    """A record processor on shard 4 writing through the proxy, whose lease table (in moto)
    names ``owner[0]``; its sleep lifts the fault after ``lift_after`` blocked tries."""
    lease_table = f"{tables[0]}-leases"
    ddb.create_table(**create_table_kwargs(lease_table))

    def sleep(s: float) -> None:
        sleeps.append(s)
        ddb.put_item(TableName=lease_table, Item={"leaseKey": {"S": SHARD}, "leaseOwner": {"S": owner[0]}})
        if lift_after is not None and len(sleeps) >= lift_after:
            proxy.set_rule(None)

    ddb.put_item(TableName=lease_table, Item={"leaseKey": {"S": SHARD}, "leaseOwner": {"S": "w1"}})
    settings = Settings(region=stack.REGION, aggregates_table=tables[0], rejects_table=tables[1],
                        application_name=lease_table, worker_id="w1", flush_interval_millis=0,
                        metrics="off", retry_max_attempts=2, retry_max_seconds=2.0)
    p = TripRecordProcessor(settings, client=client_for(proxy.url), sleep=sleep)
    p.initialize(_Init(SHARD))
    return p


SHARD = "shardId-000000000004"


def _too_large(op: str, body: dict[str, Any], n: int) -> Action:
    """Every aggregate write refused as DynamoDB refuses an item past 400 KB."""
    return Action("throttle", code="ValidationException") if op == "UpdateItem" else PASS


def test_a_shard_whose_writes_fail_for_good_waits_and_then_counts_exactly(
        proxy: Any, ddb: Any, tables: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(processor.os, "_exit", exits.append)
    sleeps: list[float] = []
    p = _blocked_processor(proxy, ddb, tables, ["w1"], sleeps, lift_after=3)
    now = int(time.time() * 1000)
    records = [Record(str(10 + i), binary_data=trip_bytes(7, 2), timestamp_millis=now) for i in range(20)]
    proxy.set_rule(_too_large)
    log: list[Any] = []
    p.process_records(Input(log, records))
    assert exits == [] and len(sleeps) == 3  # blocked three times, never gave up
    assert log == [("checkpoint", "29", 0)]
    totals = table_totals(ddb, tables[0])
    assert list(totals.values()) == [(40, 20)]  # every record once, none twice
    assert p.counters.blocked_tries == 3


def test_a_blocked_shard_whose_lease_moved_stops_without_checkpoint(
        proxy: Any, ddb: Any, tables: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(processor.os, "_exit", exits.append)
    sleeps: list[float] = []
    owner = ["w2"]  # the lease table names another worker from the first sleep on
    p = _blocked_processor(proxy, ddb, tables, owner, sleeps, lift_after=None)
    proxy.set_rule(_too_large)
    log: list[Any] = []
    now = int(time.time() * 1000)
    p.process_records(Input(log, [Record("10", binary_data=trip_bytes(7, 2), timestamp_millis=now)]))
    assert exits == [] and log == [] and len(sleeps) == 1 and p.lost
    assert table_totals(ddb, tables[0]) == {}
