"""The batching window (FLUSH_INTERVAL_MILLIS): the pending window, and the fence with flushing on.

The property tests are those of test_aggregation.py with writes grouped into flushes: a
writer adds several batches up and writes once per flush, and every writer (the first
owner, a restarted one, a second owner) draws its own flush boundaries, as its timing would.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer_app import processor as proc
from consumer_app.rules import batching
from consumer_app.rules.aggregation import AggregateKey, CleanRecord, Contribution, Position, aggregate
from consumer_app.rules.batching import Pending
from consumer_app.settings import Settings
from tests.support.fakes import Clock, Writer, with_fakes
from tests.support.fence import WINDOW_S, Store, batched, direct_sum, interleave, rec
from tests.support.kcl import Input, trip_record
from tests.support.trips import BASE_MS


def batch_of(*records: CleanRecord) -> tuple[dict[AggregateKey, Contribution], Position]:
    return aggregate(list(records), WINDOW_S), records[-1].position


# -- the pending window ------------------------------------------------------------------

def test_batches_add_up_per_item_in_shard_order() -> None:
    p: Pending[str] = Pending()
    c1, last1 = batch_of(rec(10, 1, 2, BASE_MS), rec(11, 2, 1, BASE_MS))
    c2, last2 = batch_of(rec(12, 1, 3, BASE_MS), rec(13, 1, 4, BASE_MS + WINDOW_S * 1000))
    p.add(c1, ["r1"], last1, 3, now=100.0)
    p.add(c2, [], last2, 2, now=101.0)
    contributions, rejects, last = p.take()
    by_key = {(c.key.vendor_id, c.key.window_start_ms): (c.passenger, c.trips, c.last) for c in contributions}
    assert by_key == {(1, BASE_MS): (5, 2, Position(12)), (2, BASE_MS): (1, 1, Position(11)),
                      (1, BASE_MS + 30_000): (4, 1, Position(13))}
    assert rejects == ["r1"] and last == Position(13)
    assert p.take() == ([], [], None) and p.records == 0 and p.since is None


def test_add_does_not_share_lists_with_the_batch() -> None:
    p: Pending[str] = Pending()
    c1, last1 = batch_of(rec(10, 1, 2, BASE_MS))
    p.add(c1, [], last1, 1, now=0.0)
    c2, last2 = batch_of(rec(11, 1, 3, BASE_MS))
    p.add(c2, [], last2, 1, now=0.0)
    assert [c.trips for c in c1.values()] == [1]  # the batch's contribution is left as it was


def test_due_after_the_interval_since_the_first_pending_batch() -> None:
    p: Pending[str] = Pending()
    assert not p.due(1e9, 0.0)  # nothing pending: nothing to write, whatever the time
    c, last = batch_of(rec(10, 1, 2, BASE_MS))
    p.add(c, [], last, 1, now=50.0)
    assert p.due(50.0, 0.0)  # interval 0: every batch
    assert not p.due(54.9, 5.0) and p.due(55.0, 5.0)
    c, last = batch_of(rec(11, 1, 2, BASE_MS))
    p.add(c, [], last, 1, now=54.0)  # a later batch does not restart the window
    assert p.since == 50.0 and p.due(55.0, 5.0)


def test_due_when_too_many_records_are_pending() -> None:
    p: Pending[str] = Pending()
    c, last = batch_of(rec(10, 1, 2, BASE_MS))
    p.add(c, [], last, batching.FLUSH_AT_RECORDS - 1, now=0.0)
    assert not p.due(1.0, 60.0)
    c, last = batch_of(rec(11, 1, 2, BASE_MS))
    p.add(c, [], last, 1, now=0.5)
    assert p.due(1.0, 60.0)


def test_a_batch_of_rejects_only_moves_the_position() -> None:
    p: Pending[str] = Pending()
    p.add({}, ["bad"], Position(7), 1, now=0.0)
    assert p.take() == ([], ["bad"], Position(7))


def test_batches_out_of_order_are_refused() -> None:
    p: Pending[str] = Pending()
    c, last = batch_of(rec(10, 1, 2, BASE_MS))
    p.add(c, [], last, 1, now=0.0)
    with pytest.raises(ValueError, match="out of shard order"):
        p.add({}, [], Position(10), 1, now=0.0)


# -- the fence with flushing on -----------------------------------------------------------

def flush_groups(data: st.DataObject, start: int, n: int, label: str) -> list[tuple[int, int]]:
    """This writer's flushes over batches [start, n): consecutive groups of batches."""
    if start >= n:
        return []
    cuts = data.draw(st.sets(st.integers(start + 1, n - 1), max_size=n - start) if n - start > 1
                     else st.just(set()), label=label)
    bounds = [start, *sorted(cuts), n]
    return list(pairwise(bounds))


def flushed_steps(batches: list[list[CleanRecord]], groups: list[tuple[int, int]],
                  data: st.DataObject) -> list[tuple[int, Contribution]]:
    """The item writes of a writer that flushes ``groups``: (batch after the flush, write)."""
    steps = []
    for a, b in groups:
        pending: Pending[Any] = Pending()
        for i in range(a, b):
            pending.add(aggregate(batches[i], WINDOW_S), [], batches[i][-1].position, len(batches[i]), 0.0)
        contributions, _, _ = pending.take()
        # the writes of one flush run concurrently: any order
        steps += [(b, c) for c in data.draw(st.permutations(contributions), label="write order")]
    return steps


def durable_after(steps: list[tuple[int, Contribution]], done: int, start: int) -> int:
    """The first batch not durable after ``done`` writes: the end of the last complete flush."""
    durable = start
    for i in range(done):
        end = steps[i][0]
        if i + 1 == len(steps) or steps[i + 1][0] != end:  # the last write of its flush
            durable = end
    return durable


@settings(max_examples=200, deadline=None)
@given(batched(), st.data())
def test_any_batch_split_and_any_flushes_give_the_direct_sum(shard_and_batches, data) -> None:
    records, batches = shard_and_batches
    groups = flush_groups(data, 0, len(batches), "flushes")
    store = Store()
    steps = flushed_steps(batches, groups, data)
    for _, c in steps:
        store.apply(c)
    assert store.totals() == direct_sum(records)
    # one write per item per flush: never more than per batch
    per_batch = sum(len(aggregate(b, WINDOW_S)) for b in batches)
    assert len(steps) <= per_batch


@settings(max_examples=200, deadline=None)
@given(batched(), st.data())
def test_replays_with_flushing_count_once(shard_and_batches, data) -> None:
    records, batches = shard_and_batches
    n = len(batches)
    store = Store()
    start = 0
    for k in range(data.draw(st.integers(0, 4), label="crashes")):
        steps = flushed_steps(batches, flush_groups(data, start, n, f"flushes {k}"), data)
        done = data.draw(st.integers(0, len(steps)), label="writes before crash")
        for _, c in steps[:done]:
            store.apply(c)
        durable = durable_after(steps, done, start)
        # the restart resumes from a checkpoint at or before what was durable
        start = data.draw(st.integers(0, durable), label="restart from batch")
    for _, c in flushed_steps(batches, flush_groups(data, start, n, "last flushes"), data):
        store.apply(c)
    assert store.totals() == direct_sum(records)


@settings(max_examples=200, deadline=None)
@given(batched(), st.data())
def test_two_writers_with_their_own_flushes_count_once(shard_and_batches, data) -> None:
    records, batches = shard_and_batches
    n = len(batches)
    store = Store()
    a_steps = flushed_steps(batches, flush_groups(data, 0, n, "A's flushes"), data)
    solo = data.draw(st.integers(0, len(a_steps)), label="A alone")
    for _, c in a_steps[:solo]:
        store.apply(c)
    durable = durable_after(a_steps, solo, 0)
    b_start = data.draw(st.integers(0, durable), label="B starts at batch")
    a_rest = a_steps[solo:]
    a_rest = a_rest[: data.draw(st.integers(0, len(a_rest)), label="A stops after")]
    b_steps = flushed_steps(batches, flush_groups(data, b_start, n, "B's flushes"), data)
    interleave(store, a_rest, b_steps, data)
    assert store.totals() == direct_sum(records)


def test_durable_after_counts_only_complete_flushes() -> None:
    c = Contribution(AggregateKey(1, 0), [(Position(1), 1)])
    steps = [(2, c), (2, c), (5, c)]
    assert [durable_after(steps, d, 0) for d in range(4)] == [0, 0, 2, 5]


# -- the processor with a batching window --------------------------------------------------

def processor_with(interval_ms: int) -> tuple[proc.TripRecordProcessor, Writer, Writer, Clock]:
    clock = Clock()
    p = with_fakes(proc.TripRecordProcessor(Settings(region="us-east-1", flush_interval_millis=interval_ms),
                                            clock=clock))
    return p, p.aggregates, p.rejects, clock  # type: ignore[return-value]


def test_interval_zero_writes_and_checkpoints_every_batch() -> None:
    p, aggs, _, _ = processor_with(0)
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1), trip_record(2)]))
    p.process_records(Input(log, [trip_record(3)]))
    assert [sum(c.trips for c in call) for call in aggs.calls] == [2, 1]
    assert log == [("checkpoint", "2", 0), ("checkpoint", "3", 0)]


def test_a_window_adds_batches_up_and_an_idle_poll_flushes_it() -> None:
    p, aggs, rejects, clock = processor_with(1000)
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1), trip_record(2, vendor=2)]))
    clock.now += 0.4
    p.process_records(Input(log, [trip_record(3)]))
    assert aggs.calls == [] and log == []  # nothing written or checkpointed yet
    clock.now += 0.6
    p.process_records(Input(log))  # an idle poll after the interval
    assert len(aggs.calls) == 1
    assert sorted((c.key.vendor_id, c.trips) for c in aggs.calls[0]) == [(1, 2), (2, 1)]
    assert log == [("checkpoint", "3", 0)] and p.counters.flushes == 1
    clock.now += 5
    p.process_records(Input(log))  # nothing pending: no write, no checkpoint
    assert len(aggs.calls) == 1 and len(log) == 1 and len(rejects.calls) == 1


def test_shutdown_requested_flushes_then_checkpoints() -> None:
    p, aggs, _, _ = processor_with(60_000)
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1), trip_record(2)]))
    p.shutdown_requested(Input(log))
    assert [sum(c.trips for c in call) for call in aggs.calls] == [2]
    assert log == [("checkpoint", "2", 0)]


def test_shard_ended_flushes_then_checkpoints_shard_end() -> None:
    p, aggs, _, _ = processor_with(60_000)
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1)]))
    p.shard_ended(Input(log))
    assert len(aggs.calls) == 1 and log == [("checkpoint", None, None)]  # SHARD_END only


def test_lease_lost_writes_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    p, aggs, rejects, _ = processor_with(60_000)
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1)]))
    p.lease_lost(None)
    assert aggs.calls == [] and rejects.calls == [] and log == []
    assert p.pending.last is None
