"""The watermark and finality rules (rules/watermarks.py), alone and in a model of the system.

The model runs the real rules (ShardWatermark, global_watermark, final_through, aggregate,
the fence's Contribution.above) over any interleaving hypothesis draws of: records put on
open shards (arrival times that may step back by less than the margin), polls with KCL's
prefetch queue between fetch and delivery, flushes with checkpoints and publishes, crashes
(replays from the checkpoint), idle shards, splits (closed parents, new children) and
finalizer passes.  It checks the two promises of docs/windows.md: a finalized window
never gets another contribution, and every window that ends before the global watermark
is finalized in the end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer_app.rules.aggregation import AggregateKey, CleanRecord, Position, aggregate
from consumer_app.rules.batching import Pending
from consumer_app.rules.validation import Trip
from consumer_app.rules.watermarks import (
    FETCH_DEPTH,
    PublishedWatermark,
    ShardWatermark,
    final_through,
    global_watermark,
    is_final,
    refuses_new_records,
)

MARGIN = 500
WINDOW_S = 1
MODEL_DEPTH = 1
KCL_QUEUE = 4 + 8  # PollingConfig.maxPendingProcessRecordsInput + ShardConsumer's buffer


# -- one shard's watermark ------------------------------------------------------------------

def test_records_move_the_candidate_to_the_latest_arrival_minus_the_margin() -> None:
    w = ShardWatermark(MARGIN)
    w.delivered(10_000, 9_000, 5_000)
    assert w.candidate == 8_500 and w.due() == 8_500
    w.delivered(10_100, 8_000, 4_000)  # an older arrival never moves it back
    assert w.candidate == 8_500


def test_an_idle_shard_moves_only_to_a_delivery_fetch_depth_ago() -> None:
    w = ShardWatermark(MARGIN)
    for i in range(FETCH_DEPTH):
        w.delivered(1_000 * i, None, 0)
        assert w.candidate is None  # not enough deliveries to bound the fetch time
    w.delivered(1_000 * FETCH_DEPTH, None, 0)
    assert w.candidate == 0 - MARGIN
    w.delivered(1_000 * (FETCH_DEPTH + 1), None, 0)
    assert w.candidate == 1_000 - MARGIN


def test_a_shard_behind_does_not_move_on_idle_polls() -> None:
    w = ShardWatermark(MARGIN)
    for i in range(3 * FETCH_DEPTH):
        w.delivered(1_000 * i, None, 250)
    assert w.candidate is None and w.due() is None


def test_due_only_moves_forward_and_late_is_below_the_published_value() -> None:
    w = ShardWatermark(MARGIN, published=9_000)
    w.delivered(10_000, 9_200, 1)
    assert w.due() is None  # 8,700 < 9,000 published
    assert w.late(8_999) and not w.late(9_000)
    w.saw_published(8_000)  # a lower value never replaces a higher one
    assert w.published == 9_000


@dataclass
class _Shard:
    """A shard with a KCL-like pipeline: the prefetcher fetches into a bounded queue (one
    result in hand while the queue is full), the processor takes from it later."""

    arrivals: list[int] = field(default_factory=list)
    fetched: int = 0  # records fetched so far
    in_hand: tuple[int, int] | None = None  # (upto, millis_behind) fetched, not queued
    queue: deque[tuple[int, int]] = field(default_factory=deque)
    delivered: int = 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["put", "fetch", "deliver", "tick"]),
                          st.integers(0, 400)), max_size=200))
def test_the_watermark_never_claims_an_undelivered_record(steps: list[tuple[str, int]]) -> None:
    """Whatever the queue holds, every record that arrived before the candidate was delivered."""
    shard, w, now = _Shard(), ShardWatermark(MARGIN), 1_000_000
    for action, n in steps:
        if action == "tick":
            now += n
        elif action == "put":  # arrival times may step back by less than the margin
            shard.arrivals.append(now - n % MARGIN)
        elif action == "fetch":
            if shard.in_hand is None:
                shard.in_hand = (len(shard.arrivals), 0)  # a fetch reads up to the tip
            if len(shard.queue) < KCL_QUEUE:
                shard.queue.append(shard.in_hand)
                shard.in_hand = None
        elif shard.queue:
            upto, behind = shard.queue.popleft()
            batch = shard.arrivals[shard.delivered:upto]
            shard.delivered = max(shard.delivered, upto)
            w.delivered(now, max(batch) if batch else None, behind)
        if w.candidate is not None:
            missing = [a for a in shard.arrivals[shard.delivered:] if a < w.candidate]
            assert not missing, (w.candidate, missing)


# -- the global watermark ------------------------------------------------------------------

published_st = st.dictionaries(st.sampled_from([f"s{i}" for i in range(6)]),
                               st.builds(PublishedWatermark, st.one_of(st.none(), st.integers(0, 10**6)),
                                         st.booleans()),
                               max_size=6)


@given(st.lists(st.sampled_from([f"s{i}" for i in range(6)]), unique=True, max_size=6), published_st)
def test_the_global_watermark_is_the_minimum_over_the_shards_that_can_add(
        shards: list[str], published: dict[str, PublishedWatermark]) -> None:
    g = global_watermark(shards, published)
    adding = [s for s in shards if not (s in published and published[s].ended)]
    if any(s not in published or published[s].watermark_ms is None for s in adding) or not adding:
        assert g is None
    else:
        assert g == min(published[s].watermark_ms for s in adding)  # type: ignore[type-var]


@given(st.integers(0, 10**12), st.integers(1, 3600))
def test_final_through_is_the_last_window_end_at_or_before_the_watermark(g: int, width_s: int) -> None:
    through = final_through(g, width_s)
    assert through is not None and through % (width_s * 1000) == 0
    assert 0 <= g - through < width_s * 1000
    assert is_final(through, through) and not is_final(through + width_s * 1000, through)
    assert final_through(None, width_s) is None


# -- the writer's refusal ------------------------------------------------------------------

@pytest.mark.parametrize(("end", "own", "final", "refused"), [
    (30_000, None, False, False),  # no watermark published yet: nothing claimed
    (30_000, 29_999, False, False),  # the watermark has not reached the window's end
    (30_000, 30_000, False, True),  # a window ending at the watermark was claimed complete
    (30_000, 45_000, False, True),  # ... and so was one ending before it
    (30_000, None, True, True),  # a finalized item never changes, whatever this shard says
    (30_000, 29_999, True, True),
])
def test_new_records_are_refused_for_a_final_item_or_a_window_the_shard_claimed(
        end: int, own: int | None, final: bool, refused: bool) -> None:
    assert refuses_new_records(end, own, item_final=final) is refused


@given(st.integers(0, 10**7), st.one_of(st.none(), st.integers(0, 10**7)))
def test_a_window_is_refused_exactly_when_the_shard_s_watermark_has_passed_its_end(
        end: int, own: int | None) -> None:
    """The same comparison as finality's (a window is complete for a shard once W >= end)."""
    assert refuses_new_records(end, own) is is_final(end, own)
    assert refuses_new_records(end, own, item_final=True)


# -- the whole system ----------------------------------------------------------------------

@dataclass
class _Item:
    trips: int = 0
    marks: dict[str, Position] = field(default_factory=dict)
    final: bool = False


@dataclass
class _Processor:
    """A shard's record processor: what it delivered, what is pending, its watermark."""

    position: int  # index of the next record to deliver (the checkpoint after a restart)
    watermark: ShardWatermark
    pending: Pending[None] = field(default_factory=Pending)


class _System:
    def __init__(self, shards: int) -> None:
        self.now = 1_000_000
        self.records: dict[str, list[int]] = {f"s{i}": [] for i in range(shards)}  # arrivals
        self.open = set(self.records)
        self.parents: dict[str, list[str]] = {}
        self.checkpoint: dict[str, int] = dict.fromkeys(self.records, 0)
        self.ended: set[str] = set()
        self.table: dict[str, PublishedWatermark] = {}  # the watermarks table
        self.items: dict[AggregateKey, _Item] = {}
        self.procs: dict[str, _Processor] = {}
        self.violations: list[str] = []
        self.through: int | None = None

    def startable(self, shard: str) -> bool:  # KCL starts a child once its parents ended
        return shard not in self.ended and all(p in self.ended for p in self.parents.get(shard, []))

    def proc(self, shard: str) -> _Processor:
        if shard not in self.procs:
            held = self.table.get(shard)
            # the model delivers what it fetches at once: a fetch depth of 1 is exact here
            self.procs[shard] = _Processor(self.checkpoint[shard], ShardWatermark(
                MARGIN, published=held and held.watermark_ms, fetch_depth=MODEL_DEPTH))
        return self.procs[shard]

    def put(self, shard: str, back: int) -> None:
        self.records[shard].append(self.now - back % MARGIN)

    def poll(self, shard: str) -> None:
        p = self.proc(shard)
        arrivals = self.records[shard][p.position:]
        clean = [CleanRecord(Position(p.position + i + 1), a, Trip(1, 1)) for i, a in enumerate(arrivals)]
        last = clean[-1].position if clean else None
        p.pending.add(aggregate(clean, WINDOW_S), [], last, len(clean), 0.0)
        p.position += len(arrivals)
        p.watermark.delivered(self.now, max(arrivals) if arrivals else None, 0)

    def flush(self, shard: str) -> None:
        p = self.proc(shard)
        contributions, _, _ = p.pending.take()
        for c in contributions:
            item = self.items.setdefault(c.key, _Item())
            rest = c.above(item.marks.get(shard))
            if rest is None:
                continue  # a replay: the fence explains it away
            end = c.key.window_start_ms + WINDOW_S * 1000
            if item.final or is_final(end, self.through):
                self.violations.append(f"{shard} adds {rest.trips} to final window {c.key}")
            item.trips += rest.trips
            item.marks[shard] = rest.last
        self.checkpoint[shard] = p.position  # checkpoint, then publish
        value = p.watermark.due()
        ended = shard not in self.open and p.position == len(self.records[shard])
        old = self.table.get(shard, PublishedWatermark(None))
        if value is not None and (old.watermark_ms is None or value > old.watermark_ms):
            self.table[shard] = PublishedWatermark(value, old.ended)
            p.watermark.saw_published(value)
        if ended:
            held = self.table.get(shard, PublishedWatermark(None))
            self.table[shard] = PublishedWatermark(held.watermark_ms, True)
            self.ended.add(shard)
            del self.procs[shard]

    def crash(self, shard: str) -> None:
        self.procs.pop(shard, None)  # pending is lost; the next one starts at the checkpoint

    def split(self, shard: str) -> None:
        self.open.discard(shard)
        for k in (0, 1):
            child = f"{shard}.{k}"
            self.records[child] = []
            self.checkpoint[child] = 0
            self.parents[child] = [shard]
            self.open.add(child)

    def finalize(self) -> None:
        through = final_through(global_watermark(list(self.records), self.table), WINDOW_S)
        if through is None or (self.through is not None and through <= self.through):
            return
        for key, item in self.items.items():
            if key.window_start_ms + WINDOW_S * 1000 <= through:
                item.final = True
        self.through = through


action_st = st.tuples(st.sampled_from(["put", "put", "poll", "poll", "flush", "flush", "crash", "tick",
                                       "tick", "finalize", "finalize", "split"]),
                      st.integers(0, 10**6))


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 3), st.lists(action_st, max_size=120))
def test_final_windows_never_change_and_every_passed_window_becomes_final(
        shards: int, actions: list[tuple[str, int]]) -> None:
    sys = _System(shards)
    for action, n in actions:
        # records go to any open shard, a child too before KCL may start it
        live = sorted(s for s in sys.records if sys.startable(s) or (action == "put" and s in sys.open))
        shard = live[n % len(live)] if live else None
        if action == "tick":
            sys.now += n % 3000
        elif action == "finalize":
            sys.finalize()
        elif shard is None:
            continue
        elif action == "put":
            if shard in sys.open:
                sys.put(shard, n)
        elif action == "poll":
            sys.poll(shard)
        elif action == "flush":
            sys.flush(shard)
        elif action == "crash":
            sys.crash(shard)
        elif action == "split" and shard in sys.open and len(sys.records) < 12:
            sys.split(shard)
    assert not sys.violations

    # drain: every shard read to its end and flushed, then idle polls and a finalizer pass
    # once the clock has passed every arrival
    for _ in range(4):
        for shard in sorted(sys.records):
            if sys.startable(shard):
                sys.poll(shard)
                sys.flush(shard)
    last = max((a for arr in sys.records.values() for a in arr), default=sys.now)
    sys.now = max(sys.now, last) + MARGIN + 2 * WINDOW_S * 1000
    for _ in range(MODEL_DEPTH + 1):
        for shard in sorted(sys.records):
            if sys.startable(shard):
                sys.poll(shard)
                sys.flush(shard)
        sys.now += 10
    sys.finalize()
    assert not sys.violations
    g = global_watermark(list(sys.records), sys.table)
    assert g is not None and g > last  # idle shards did not hold finality back
    not_final = [k for k, it in sys.items.items() if not it.final
                 and is_final(k.window_start_ms + WINDOW_S * 1000, final_through(g, WINDOW_S))]
    assert not not_final
    total = sum(it.trips for it in sys.items.values())
    assert total == sum(len(a) for a in sys.records.values())  # exactly once, replays and all


def test_a_child_without_a_watermark_holds_finality_back() -> None:
    """A split: the child gets a record at once, but KCL starts it only after its parent
    ended.  Meanwhile the other shard is idle and its watermark moves far past that record."""
    sys = _System(2)
    sys.split("s0")
    sys.put("s0.0", 0)
    child_record = sys.records["s0.0"][0]
    sys.now += 3_000
    for _ in range(3):
        sys.poll("s1")
        sys.flush("s1")
    sys.poll("s0")
    sys.flush("s0")  # the parent reaches SHARD_END: it adds nothing any more
    assert "s0" in sys.ended and sys.table["s1"].watermark_ms > child_record  # type: ignore[operator]
    sys.finalize()
    assert sys.through is None  # the children have no watermark yet
    sys.poll("s0.0")
    sys.flush("s0.0")
    assert not sys.violations


@pytest.mark.parametrize(("depth", "claims_undelivered"), [(0, True), (KCL_QUEUE - 1, True),
                                                         (FETCH_DEPTH, False)])
def test_the_fetch_depth_must_cover_kcl_s_queue(depth: int, claims_undelivered: bool) -> None:
    """A full queue of idle results fetched at once, then a record; the processor was busy
    and takes them one per second.  Trusting a delivery fewer than a queue's length ago
    claims the record before it is delivered."""
    w = ShardWatermark(MARGIN, fetch_depth=depth)
    fetched_at = 1_000_000
    record_arrival = fetched_at + 100  # after the idle fetches, before the processor reads them
    wrong = False
    for i in range(KCL_QUEUE + 1):  # the idle results, delivered late, one per second
        w.delivered(fetched_at + 10_000 + 1_000 * i, None, 0)
        wrong = wrong or (w.candidate is not None and w.candidate > record_arrival)
    assert wrong is claims_undelivered
    assert FETCH_DEPTH > KCL_QUEUE
