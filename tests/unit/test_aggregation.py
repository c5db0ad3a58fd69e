"""Positions, per-batch aggregation and the per-shard sequence fence (docs/design.md#exactly-once)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer_app.rules.aggregation import (
    AggregateKey,
    CleanRecord,
    Contribution,
    Position,
    aggregate,
)
from consumer_app.rules.validation import Trip
from tests.support.fence import BIG, WINDOW_S, Store, batched, direct_sum, interleave, rec
from tests.support.trips import BASE_MS

SEQ = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898  # a real-looking one


# -- Position ------------------------------------------------------------------------

def test_position_orders_as_integers_not_strings():
    assert Position(9) < Position(10)
    assert str(Position(9)) > str(Position(10))  # which is why strings are not compared
    assert Position(BIG - 1) < Position(BIG) < Position(BIG + 1)
    assert len(str(BIG)) == 129


def test_position_orders_by_sub_sequence_within_a_sequence():
    assert Position(BIG, 0) < Position(BIG, 1) < Position(BIG, 2) < Position(BIG + 1, 0)
    assert Position(BIG, 99) < Position(BIG + 1)
    assert Position(BIG, 5) > Position(BIG, 4)
    assert Position(BIG, 5) >= Position(BIG, 5)
    assert Position(BIG, 5) <= Position(BIG, 5)
    assert not Position(BIG, 5) < Position(BIG, 5)
    assert Position(SEQ) == Position(SEQ, 0)
    assert Position(SEQ, 1) != Position(SEQ, 0)


def test_position_sorting():
    ps = [Position(BIG + 1), Position(BIG, 3), Position(7), Position(BIG), Position(BIG, 1)]
    assert sorted(ps) == [Position(7), Position(BIG), Position(BIG, 1), Position(BIG, 3), Position(BIG + 1)]
    assert max(ps) == Position(BIG + 1)


def test_position_str_and_parse():
    assert str(Position(SEQ, 3)) == f"{SEQ}:3"
    assert str(Position(12)) == "12:0"
    assert Position.parse(f"{SEQ}:3") == Position(SEQ, 3)
    assert Position.parse(str(SEQ)) == Position(SEQ, 0)  # bare sequence number
    assert Position.parse("0:0") == Position(0, 0)
    assert Position.parse("1" + "0" * 128) == Position(BIG)
    assert Position.parse("007:01") == Position(7, 1)


@pytest.mark.parametrize("text", ["", ":", ":1", "abc", "1:x", "-1", "1:-1", " 1", "1 ", "1.5", "1:2:3",
                                  "0x10", "1e5", "+1"])
def test_position_parse_errors(text):
    with pytest.raises(ValueError, match="not a record position"):
        Position.parse(text)


@settings(max_examples=200, deadline=None)
@given(seq=st.integers(0, 10**129 - 1), sub=st.integers(0, 2**63))
def test_position_round_trip(seq, sub):
    p = Position(seq, sub)
    assert Position.parse(str(p)) == p


@settings(max_examples=200, deadline=None)
@given(a=st.tuples(st.integers(0, 10**129), st.integers(0, 50)),
       b=st.tuples(st.integers(0, 10**129), st.integers(0, 50)))
def test_position_order_is_lexicographic_on_integers(a, b):
    pa, pb = Position(*a), Position(*b)
    assert (pa < pb) == (a < b)
    assert (pa == pb) == (a == b)
    assert (pa > pb) == (a > b)


# -- aggregate -----------------------------------------------------------------------

T0 = 1_764_230_430_000  # a 30 s boundary (2025-11-27T08:00:30Z)


def test_aggregate_sums_per_vendor_and_window_in_shard_order():
    records = [
        rec(BIG + 1, 1, 2, T0 + 5),
        rec(BIG + 2, 2, 4, T0 + 10),
        rec(BIG + 3, 1, 3, T0 + 29_999),
        rec(BIG + 3, 1, 1, T0 + 29_999, sub=1),  # KPL sub-record
        rec(BIG + 7, 1, 5, T0 + 30_000),  # next window
        rec(BIG + 9, 2, 0, T0 - 1),  # previous window, arrival out of order is allowed
    ]
    out = aggregate(records, 30)
    k1 = AggregateKey(1, T0)
    k2 = AggregateKey(2, T0)
    k3 = AggregateKey(1, T0 + 30_000)
    k4 = AggregateKey(2, T0 - 30_000)
    assert list(out) == [k1, k2, k3, k4]
    assert out[k1].records == [(Position(BIG + 1), 2), (Position(BIG + 3), 3), (Position(BIG + 3, 1), 1)]
    assert (out[k1].passenger, out[k1].trips) == (6, 3)
    assert (out[k1].first, out[k1].last) == (Position(BIG + 1), Position(BIG + 3, 1))
    assert (out[k2].passenger, out[k2].trips) == (4, 1)
    assert (out[k3].passenger, out[k3].trips) == (5, 1)
    assert (out[k4].passenger, out[k4].trips) == (0, 1)
    assert all(c.key == k for k, c in out.items())


def test_aggregate_window_width():
    records = [rec(1, 1, 1, T0), rec(2, 1, 1, T0 + 30_000), rec(3, 1, 1, T0 + 59_999)]
    out = aggregate(records, 60)
    # T0 is :30 of a minute, so with 60 s windows these straddle 08:00:00 and 08:01:00
    assert {k.window_start_ms: c.trips for k, c in out.items()} == {T0 - 30_000: 1, T0 + 30_000: 2}


def test_aggregate_empty():
    assert aggregate([], 30) == {}


@pytest.mark.parametrize("second", [Position(BIG), Position(BIG - 1), Position(BIG - 1, 9)])
def test_aggregate_rejects_out_of_order_or_repeated(second):
    with pytest.raises(ValueError, match="out of shard order"):
        aggregate([CleanRecord(Position(BIG), T0, Trip(1, 1)), CleanRecord(second, T0, Trip(2, 1))], 30)


def test_aggregate_rejects_bad_window():
    with pytest.raises(ValueError):
        aggregate([rec(1, 1, 1, T0)], 0)


# -- Contribution.above --------------------------------------------------------------

def contribution() -> Contribution:
    return Contribution(AggregateKey(1, T0), [(Position(BIG, 0), 2), (Position(BIG, 1), 3),
                                              (Position(BIG + 5), 4), (Position(BIG + 9), 1)])


def test_above_none_is_everything():
    c = contribution()
    rest = c.above(None)
    assert rest is not None and rest.records == c.records and (rest.passenger, rest.trips) == (10, 4)


@pytest.mark.parametrize(("mark", "passenger", "trips", "first"), [
    (Position(0), 10, 4, Position(BIG, 0)),
    (Position(BIG - 1, 99), 10, 4, Position(BIG, 0)),
    (Position(BIG, 0), 8, 3, Position(BIG, 1)),  # the mark itself is applied already
    (Position(BIG, 1), 5, 2, Position(BIG + 5)),
    (Position(BIG + 4), 5, 2, Position(BIG + 5)),
    (Position(BIG + 5), 1, 1, Position(BIG + 9)),
])
def test_above_mark(mark, passenger, trips, first):
    rest = contribution().above(mark)
    assert rest is not None
    assert (rest.passenger, rest.trips, rest.first, rest.last) == (passenger, trips, first, Position(BIG + 9))
    assert rest.key == AggregateKey(1, T0)


@pytest.mark.parametrize("mark", [Position(BIG + 9), Position(BIG + 9, 1), Position(BIG * 10)])
def test_above_mark_nothing_left(mark):
    assert contribution().above(mark) is None


def test_above_does_not_modify_the_original():
    c = contribution()
    c.above(Position(BIG + 5))
    assert c.trips == 4 and c.passenger == 10


# -- Property tests: the fence counts every record once --------------------------------

def contributions_of(batches: list[list[CleanRecord]]) -> list[list[Contribution]]:
    return [list(aggregate(b, WINDOW_S).values()) for b in batches]


def test_direct_sum_oracle_sanity():
    records = [rec(1, 1, 2, BASE_MS), rec(2, 1, 3, BASE_MS + 29_999), rec(3, 2, 4, BASE_MS + 30_000)]
    assert direct_sum(records) == {(1, BASE_MS): (5, 2), (2, BASE_MS + 30_000): (4, 1)}


@settings(max_examples=200, deadline=None)
@given(batched())
def test_any_batch_split_gives_the_direct_sum(shard_and_batches):
    records, batches = shard_and_batches
    expected = direct_sum(records)
    assert sum(t for _, t in expected.values()) == len(records)

    single = Store()
    for c in aggregate(records, WINDOW_S).values():
        single.apply(c)
    assert single.totals() == expected

    store = Store()
    for contribs in contributions_of(batches):
        for c in contribs:
            store.apply(c)
    assert store.totals() == expected
    # every item's mark is the position of its last record
    last_of: dict[tuple[int, int], Position] = {}
    for r in records:
        last_of[(r.trip.vendor_id, r.arrival_ms - r.arrival_ms % 30_000)] = r.position
    assert {(k.vendor_id, k.window_start_ms): m for k, (_, _, m) in store.items.items()} == last_of


def steps_from(batch_contribs: list[list[Contribution]], start: int) -> list[tuple[int, Contribution]]:
    """A writer's item writes from batch ``start`` on: (batch index, contribution)."""
    return [(i, c) for i in range(start, len(batch_contribs)) for c in batch_contribs[i]]


def durable_boundary(batch_contribs: list[list[Contribution]], start: int, done: int) -> int:
    """After the first ``done`` item writes from batch ``start``: the first batch not fully written."""
    b = start
    while b < len(batch_contribs) and done >= len(batch_contribs[b]):
        done -= len(batch_contribs[b])
        b += 1
    return b


@settings(max_examples=200, deadline=None)
@given(batched(), st.data())
def test_replays_from_earlier_checkpoints_count_once(shard_and_batches, data):
    records, batches = shard_and_batches
    bc = contributions_of(batches)
    # concurrent writes of one batch may land in any order
    bc = [data.draw(st.permutations(cs)) for cs in bc]
    store = Store()
    start = 0
    for _ in range(data.draw(st.integers(0, 4), label="crashes")):
        steps = steps_from(bc, start)
        done = data.draw(st.integers(0, len(steps)), label="writes before crash")
        for _, c in steps[:done]:
            store.apply(c)
        durable = durable_boundary(bc, start, done)
        # the restart resumes from a checkpoint at or before what was durable
        start = data.draw(st.integers(0, durable), label="restart from batch")
    for _, c in steps_from(bc, start):
        store.apply(c)
    assert store.totals() == direct_sum(records)


@settings(max_examples=200, deadline=None)
@given(batched(), st.data())
def test_two_writers_on_one_shard_count_once(shard_and_batches, data):
    records, batches = shard_and_batches
    bc = [data.draw(st.permutations(cs)) for cs in contributions_of(batches)]
    n = len(bc)
    store = Store()
    # writer A works alone up to a durable checkpoint ...
    a_steps = steps_from(bc, 0)
    solo = data.draw(st.integers(0, len(a_steps)), label="A alone")
    for _, c in a_steps[:solo]:
        store.apply(c)
    durable = durable_boundary(bc, 0, solo)
    # ... then B takes the shard from a checkpoint at or before that, while A carries on
    # (it has not noticed the lease moved) and may stop at any point; B goes to the end.
    b_start = data.draw(st.integers(0, durable), label="B starts at batch")
    a_rest = a_steps[solo:]
    a_rest = a_rest[: data.draw(st.integers(0, len(a_rest)), label="A stops after")]
    b_steps = steps_from(bc, b_start)
    interleave(store, a_rest, b_steps, data)
    assert n == len(batches)
    assert store.totals() == direct_sum(records)


def test_two_writers_hand_made_interleaving():
    # batches: [r1 r2] [r3] [r4], all on one item; A does b0, b1; B restarts from b0 and
    # overtakes A: A's b1 write comes after B's b2 write and must be dropped.
    rs = [rec(10, 1, 1, BASE_MS), rec(11, 1, 2, BASE_MS), rec(12, 1, 4, BASE_MS), rec(13, 1, 8, BASE_MS)]
    b0, b1, b2 = (next(iter(aggregate(b, WINDOW_S).values())) for b in ([rs[0], rs[1]], [rs[2]], [rs[3]]))
    store = Store()
    store.apply(b0)  # A
    store.apply(b0)  # B: nothing new
    store.apply(b1)  # B
    store.apply(b2)  # B
    store.apply(b1)  # A, late: below the mark
    store.apply(b2)  # A
    assert store.totals() == {(1, BASE_MS): (15, 4)}
    assert store.items[AggregateKey(1, BASE_MS)][2] == Position(13)
