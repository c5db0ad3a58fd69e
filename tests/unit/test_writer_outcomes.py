"""What the writers hand back and count, against an in-memory table that answers the fenced
``UpdateItem`` as DynamoDB does: one :class:`AggregateOutcome` per write (written, skipped as
replays, refused because the window is final), failures raised, and a lost watermark race
counted apart from replays."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from consumer_app.counters import ShardCounters
from consumer_app.dynamo.aggregates import AggregateOutcome, AggregateWriter
from consumer_app.dynamo.attempts import AttemptRunner
from consumer_app.dynamo.errors import WriteFailed
from consumer_app.dynamo.watermarks import WatermarkStore
from consumer_app.rules.aggregation import CleanRecord, Contribution, Position, aggregate
from consumer_app.rules.retry import RetryPolicy
from consumer_app.rules.validation import Trip
from consumer_app.tables import FINAL

SHARD = "shardId-000000000000"
BASE_MS = 1_764_230_400_000  # a window boundary: 2025-11-27T08:00:00Z
WINDOW_S = 30
POLICY = RetryPolicy(max_attempts=3, max_elapsed_s=30, base_delay_s=0.001, max_delay_s=0.01)


def _error(code: str, item: dict[str, Any] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    if item is not None:
        response["Item"] = item
    return ClientError(response, "UpdateItem")  # type: ignore[arg-type]


class _Table:
    """The aggregates table as far as the writer uses it: its two condition forms, the
    returned item on a failed condition, and errors to raise before any update."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.errors: list[ClientError] = []  # raised by the next update_item calls, in order
        self.reads = 0

    @staticmethod
    def _key(key: dict[str, Any]) -> tuple[str, str]:
        return key["vendorId"]["N"], key["windowStart"]["S"]

    def get_item(self, TableName: str, Key: dict[str, Any], ConsistentRead: bool) -> dict[str, Any]:
        self.reads += 1
        item = self.items.get(self._key(Key))
        return {"Item": dict(item)} if item is not None else {}

    def update_item(self, **req: Any) -> dict[str, Any]:
        if self.errors:
            raise self.errors.pop(0)
        key = self._key(req["Key"])
        item = self.items.get(key)
        values, mark = req["ExpressionAttributeValues"], req["ExpressionAttributeNames"]["#m"]
        held = None if item is None else item.get(mark, {}).get("S")
        expected = values[":old"]["S"] if ":old" in values else None
        if held != expected or (item is not None and FINAL in item):
            raise _error("ConditionalCheckFailedException", None if item is None else dict(item))
        new = dict(item or {})
        for name, attr in (("passenger", ":p"), ("trips", ":t")):
            new[name] = {"N": str(int(new.get(name, {"N": "0"})["N"]) + int(values[attr]["N"]))}
        new.update({"windowEnd": values[":we"], mark: values[":new"], "updatedAt": values[":now"]})
        self.items[key] = new
        return {}

    def finalize(self, vendor: int, window_start: str) -> None:
        self.items[(str(vendor), window_start)][FINAL] = {"BOOL": True}


def writer(table: _Table) -> tuple[AggregateWriter, ShardCounters]:
    counters = ShardCounters()
    runner = AttemptRunner(POLICY, counters, ThreadPoolExecutor(2), sleep=lambda _: None)
    return AggregateWriter(table, "aggs", SHARD, WINDOW_S, runner), counters


def contributions(first_seq: int, arrivals: list[int], vendor: int = 1) -> list[Contribution]:
    clean = [CleanRecord(Position(first_seq + i), a, Trip(vendor, 2)) for i, a in enumerate(arrivals)]
    return list(aggregate(clean, WINDOW_S).values())


def trips(table: _Table, vendor: int, window_start: str) -> int:
    return int(table.items[(str(vendor), window_start)]["trips"]["N"])


def test_a_write_returns_what_it_wrote_and_a_replay_what_the_fence_skipped() -> None:
    table = _Table()
    w, counters = writer(table)
    first = w.write(contributions(1, [BASE_MS + 1, BASE_MS + 2, BASE_MS + 30_001]))
    assert first == AggregateOutcome(written=2, replays_skipped=0, refused=())
    again = w.write(contributions(1, [BASE_MS + 1, BASE_MS + 2, BASE_MS + 30_001]))
    assert again == AggregateOutcome(written=0, replays_skipped=3, refused=())
    more = w.write(contributions(2, [BASE_MS + 2, BASE_MS + 3]))  # record 2 replayed, 3 new
    assert (more.written, more.replays_skipped, more.refused) == (1, 1, ())
    assert trips(table, 1, "2025-11-27T08:00:00Z") == 3 and counters.skipped_replays == 4
    assert w.write([]) == AggregateOutcome()


def test_records_new_to_a_finalized_item_come_back_refused_and_the_item_stays() -> None:
    table = _Table()
    w, counters = writer(table)
    w.write(contributions(1, [BASE_MS + 1, BASE_MS + 2]))
    table.finalize(1, "2025-11-27T08:00:00Z")
    before = dict(table.items[("1", "2025-11-27T08:00:00Z")])
    fresh, _ = writer(table)  # a restart: its fence cache is empty, the condition tells it
    outcome = fresh.write(contributions(1, [BASE_MS + 1, BASE_MS + 2, BASE_MS + 3, BASE_MS + 30_000]))
    assert [[p for p, _ in c.records] for c in outcome.refused] == [[Position(3)]]
    assert (outcome.written, outcome.replays_skipped, outcome.refused_records) == (1, 2, 1)
    assert table.items[("1", "2025-11-27T08:00:00Z")] == before
    assert counters.refused_final == 0  # counting refusals is the processor's, from the outcome


def test_a_window_the_shard_s_watermark_claimed_refuses_new_records_without_an_item() -> None:
    table = _Table()
    w, _ = writer(table)
    w.write(contributions(1, [BASE_MS + 1]))
    w.claimed_through = BASE_MS + 30_000  # this shard published the window's end
    replay = w.write(contributions(1, [BASE_MS + 1]))
    assert replay == AggregateOutcome(written=0, replays_skipped=1, refused=())
    late = w.write(contributions(5, [BASE_MS + 7], vendor=2))
    assert [c.key.vendor_id for c in late.refused] == [2] and late.written == 0
    assert ("2", "2025-11-27T08:00:00Z") not in table.items and table.reads == 1
    assert w.write(contributions(6, [BASE_MS + 30_000])).refused == ()  # the next window is open


def test_each_outcome_is_its_own_frozen_value() -> None:
    """No side list: what one write refused is not reported again by the next one."""
    table = _Table()
    w, _ = writer(table)
    w.claimed_through = BASE_MS + 30_000
    refused = w.write(contributions(1, [BASE_MS + 1]))
    assert len(refused.refused) == 1
    assert w.write(contributions(2, [BASE_MS + 30_001])).refused == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        refused.written = 5  # type: ignore[misc]


def test_failures_raise_and_a_retried_write_counts_once() -> None:
    table = _Table()
    w, counters = writer(table)
    table.errors = [_error("ProvisionedThroughputExceededException")]
    assert w.write(contributions(1, [BASE_MS + 1])).written == 1  # throttled, retried, written
    assert counters.throttled_writes == 1 and counters.aggregate_writes == 1
    table.errors = [_error("ValidationException")]
    with pytest.raises(WriteFailed):
        w.write(contributions(2, [BASE_MS + 2]))


class _WatermarkTable:
    """A watermarks table that already holds a higher watermark than any publish."""

    def __init__(self, held: int) -> None:
        self.held = held

    def update_item(self, **req: Any) -> dict[str, Any]:
        raise _error("ConditionalCheckFailedException", {"watermark": {"N": str(self.held)}})


def test_a_lost_watermark_race_is_counted_apart_from_replays() -> None:
    counters = ShardCounters()
    runner = AttemptRunner(POLICY, counters, ThreadPoolExecutor(1), sleep=lambda _: None)
    held = WatermarkStore(_WatermarkTable(9_000), "wm").publish(runner, SHARD, 5_000, {1}, "7:0")
    assert held == 9_000  # the higher value someone else wrote is adopted
    assert (counters.watermark_races_lost, counters.skipped_replays, counters.watermarks) == (1, 0, 0)
