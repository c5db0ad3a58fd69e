"""The DynamoDB writers against the real moto server: exactly-once under replay and races."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest

from consumer_app.rules.aggregation import CleanRecord, Position, aggregate
from devkit.local.inspect import scan_all
from tests.integration.conftest import FAST_POLICY, Writers, client_for
from tests.support.dynamo import expected_totals, make_rejects, shard_records, table_totals
from tests.support.trips import BASE_MS

pytestmark = pytest.mark.integration


def expected_over(shards: Iterable[list[CleanRecord]]) -> dict[tuple[int, str], tuple[int, int]]:
    """expected_totals of several shards writing the same items, added up."""
    passenger: Counter[tuple[int, str]] = Counter()
    trips: Counter[tuple[int, str]] = Counter()
    for recs in shards:
        for k, (p, n) in expected_totals(recs).items():
            passenger[k] += p
            trips[k] += n
    return {k: (passenger[k], trips[k]) for k in trips}


def write_batches(w: Writers, records: list[CleanRecord], size: int) -> None:
    for i in range(0, len(records), size):
        w.aggregates.write(list(aggregate(records[i:i + size], 30).values()))


def test_batches_sum_exactly(moto: Any, ddb: Any, tables: tuple[str, str]) -> None:
    recs = shard_records(400, seed=1)
    w = Writers(client_for(f"http://127.0.0.1:{moto.port}"), tables, "shardId-000000000000", FAST_POLICY)
    write_batches(w, recs, 37)
    assert table_totals(ddb, tables[0]) == expected_totals(recs)
    item = scan_all(ddb, tables[0])[0]
    assert item["windowEnd"]["S"] > item["windowStart"]["S"]
    assert Position.parse(item["mark_shardId-000000000000"]["S"]).sequence > 0


def test_replay_after_crash_counts_once(moto: Any, ddb: Any, tables: tuple[str, str]) -> None:
    """A new process (empty mark cache) replays from an earlier checkpoint: nothing doubles."""
    recs = shard_records(500, seed=2)
    url = f"http://127.0.0.1:{moto.port}"
    first = Writers(client_for(url), tables, "shardId-000000000001", FAST_POLICY)
    write_batches(first, recs[:350], 50)  # crash after 350 records, checkpoint was at 200
    second = Writers(client_for(url), tables, "shardId-000000000001", FAST_POLICY)
    write_batches(second, recs[200:], 45)
    assert table_totals(ddb, tables[0]) == expected_totals(recs)
    assert second.counters.skipped_replays == 150  # records 200..349 were found under the marks
    # and once more from the very start, with yet another batch size
    third = Writers(client_for(url), tables, "shardId-000000000001", FAST_POLICY)
    write_batches(third, recs, 120)
    assert table_totals(ddb, tables[0]) == expected_totals(recs)
    assert third.counters.aggregate_writes == 0


@pytest.mark.parametrize("old_size,new_size", [(30, 40), (200, 7), (1, 300)])
def test_two_writers_on_one_shard(moto: Any, ddb: Any, tables: tuple[str, str], old_size: int,
                                  new_size: int) -> None:
    """A lease moved while the old owner was still writing: both write the same records.

    Both start at the shard's checkpoint (record 150 here), below which everything is
    applied: that is KCL's guarantee (the new owner starts at the last checkpoint, and the
    old owner checkpoints after every batch), and the fence relies on it.
    """
    recs = shard_records(600, seed=3, spacing_ms=120)
    url = f"http://127.0.0.1:{moto.port}"
    old = Writers(client_for(url), tables, "shardId-000000000002", FAST_POLICY)
    new = Writers(client_for(url), tables, "shardId-000000000002", FAST_POLICY)
    write_batches(old, recs[:150], old_size)  # durable, then checkpointed at record 150
    errors: list[BaseException] = []

    def run(w: Writers, part: list[CleanRecord], size: int) -> None:
        try:
            write_batches(w, part, size)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(old, recs[150:450], old_size)),
               threading.Thread(target=run, args=(new, recs[150:], new_size))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert table_totals(ddb, tables[0]) == expected_totals(recs)


def test_shards_share_items(moto: Any, ddb: Any, tables: tuple[str, str]) -> None:
    """Four shards writing the same vendor/window items at once (the hot-key case)."""
    url = f"http://127.0.0.1:{moto.port}"
    shards = {f"shardId-00000000000{i}": shard_records(300, seed=10 + i) for i in range(4)}
    threads = [threading.Thread(target=write_batches,
                                args=(Writers(client_for(url), tables, s, FAST_POLICY), recs, 60))
               for s, recs in shards.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert table_totals(ddb, tables[0]) == expected_over(shards.values())


def test_sub_items_spread_the_shards_and_add_up_to_the_window(moto: Any, ddb: Any,
                                                               tables: tuple[str, str]) -> None:
    """AGGREGATE_SUB_ITEMS=4 with 8 shards: each sub-item carries the marks of 2 shards only,
    and the sub-items of a window add up to what one item per window would hold."""
    url = f"http://127.0.0.1:{moto.port}"
    shards = {f"shardId-{i:012d}": shard_records(120, seed=30 + i) for i in range(8)}
    for shard, recs in shards.items():
        write_batches(Writers(client_for(url), tables, shard, FAST_POLICY, sub_items=4), recs, 40)
        # a replay of the whole shard from the start adds nothing (the fence, per sub-item)
        write_batches(Writers(client_for(url), tables, shard, FAST_POLICY, sub_items=4), recs, 25)
    items = scan_all(ddb, tables[0])
    merged: Counter[tuple[int, str]] = Counter()
    merged_trips: Counter[tuple[int, str]] = Counter()
    for it in items:
        window, _, sub = it["windowStart"]["S"].partition("#")
        assert sub in {"0", "1", "2", "3"}, it["windowStart"]
        marks = {a for a in it if a.startswith("mark_")}
        assert marks <= {f"mark_shardId-{i:012d}" for i in range(8) if i % 4 == int(sub)}, marks
        merged[(int(it["vendorId"]["N"]), window)] += int(it["passenger"]["N"])
        merged_trips[(int(it["vendorId"]["N"]), window)] += int(it["trips"]["N"])
    assert {k: (merged[k], merged_trips[k]) for k in merged_trips} == expected_over(shards.values())


def test_rejects_written_once_with_bounded_payload(moto: Any, ddb: Any, tables: tuple[str, str]) -> None:
    w = Writers(client_for(f"http://127.0.0.1:{moto.port}"), tables, "shardId-000000000003", FAST_POLICY)
    rejects = make_rejects(60, payload_size=1000)
    w.rejects.write(rejects)
    w.rejects.write(rejects[10:])  # a replay rewrites the same items
    items = scan_all(ddb, tables[1])
    assert len(items) == 60
    it = items[0]
    assert it["shardId"]["S"] == "shardId-000000000003"
    assert len(it["payload"]["B"]) == 256 and it["truncated"]["BOOL"] is True
    assert it["payloadBytes"]["N"] == "1000"
    arrival_ms = BASE_MS + int(it["sequence"]["S"].split(":")[0]) - 10**50
    assert int(it["expiresAt"]["N"]) == arrival_ms // 1000 + 14 * 86400
