"""The per-shard sequence fence in pure Python, and shards of clean records to test it with
(docs/guarantees.md: every clean record is counted exactly once)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

from hypothesis import strategies as st

from consumer_app.rules.aggregation import AggregateKey, CleanRecord, Contribution, Position
from consumer_app.rules.validation import Trip
from tests.support.trips import BASE_MS

BIG = 10**128  # a 129-digit sequence number
WINDOW_S = 30


def rec(seq: int, vendor: int, passengers: int, arrival: int, sub: int = 0) -> CleanRecord:
    return CleanRecord(Position(seq, sub), arrival, Trip(vendor, passengers))


@dataclass
class Store:
    """The aggregates table's fence: item -> (passenger, trips, this shard's high-water mark)."""

    items: dict[AggregateKey, list] = field(default_factory=dict)

    def apply(self, c: Contribution) -> None:
        item = self.items.setdefault(c.key, [0, 0, None])
        rest = c.above(item[2])
        if rest:
            item[0] += rest.passenger
            item[1] += rest.trips
            item[2] = rest.last

    def totals(self) -> dict[tuple[int, int], tuple[int, int]]:
        return {(k.vendor_id, k.window_start_ms): (p, t) for k, (p, t, _) in self.items.items() if t}


@st.composite
def shards(draw, min_size: int = 1, max_size: int = 40) -> list[CleanRecord]:
    """A shard's clean records: strictly increasing positions (with KPL sub-records)."""
    n = draw(st.integers(min_size, max_size))
    seq = BIG + draw(st.integers(0, 10**20))
    sub = 0
    out = []
    for _ in range(n):
        if out and draw(st.booleans()) and draw(st.booleans()):
            sub += 1  # next sub-record of the same aggregated record
        else:
            seq += draw(st.integers(1, 10**21))
            sub = 0
        vendor = draw(st.integers(1, 3))
        passengers = draw(st.integers(0, 9))
        arrival = BASE_MS + draw(st.integers(0, 4 * WINDOW_S * 1000))  # about five windows
        out.append(rec(seq, vendor, passengers, arrival, sub))
    return out


def direct_sum(records: list[CleanRecord]) -> dict[tuple[int, int], tuple[int, int]]:
    """Expected totals computed straight from the records, without the module."""
    passenger: Counter = Counter()
    trips: Counter = Counter()
    for r in records:
        key = (r.trip.vendor_id, r.arrival_ms // (WINDOW_S * 1000) * (WINDOW_S * 1000))
        passenger[key] += r.trip.passenger_count
        trips[key] += 1
    return {k: (passenger[k], trips[k]) for k in trips}


def split(records: list[CleanRecord], cuts: set[int]) -> list[list[CleanRecord]]:
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(records)), len(records)]
    return [records[a:b] for a, b in pairwise(bounds)]


@st.composite
def batched(draw) -> tuple[list[CleanRecord], list[list[CleanRecord]]]:
    records = draw(shards())
    cuts = draw(st.sets(st.integers(1, max(1, len(records) - 1)), max_size=len(records)))
    return records, split(records, cuts)


def interleave(store: Store, a_steps: list[tuple[int, Contribution]], b_steps: list[tuple[int, Contribution]],
               data: st.DataObject) -> None:
    """Apply two writers' item writes, each in its own order, in any interleaving."""
    ia = ib = 0
    while ia < len(a_steps) or ib < len(b_steps):
        if ib == len(b_steps) or (ia < len(a_steps) and data.draw(st.booleans())):
            store.apply(a_steps[ia][1])
            ia += 1
        else:
            store.apply(b_steps[ib][1])
            ib += 1
