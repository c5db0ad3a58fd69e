"""Batch aggregation and the per-shard sequence fence (docs/design.md#exactly-once).

A batch becomes one :class:`Contribution` per (vendorId, windowStart).  Each aggregate
item carries, per shard, a high-water mark: the position of the last record of that
shard applied to it.  Because one shard's records reach an item in sequence order,
applying only the records above the mark counts every record exactly once, whoever
writes and however often (crash replays, lease moves, two workers on one shard).

The one precondition: a writer starts at the shard's checkpoint, and every record at or
below a checkpoint has been applied.  KCL gives that: a new lease owner starts at the
last checkpoint, and the processor checkpoints only after a batch is durable, so two
writers of one shard always start from the same point (tests/integration/test_writers.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from consumer_app.rules.validation import Trip
from consumer_app.rules.windows import window_floor, window_start_ms


class Position(NamedTuple):
    """A record's place in its shard: sequence number, then sub-sequence (KPL) number.

    Sequence numbers have up to 129 digits: they are compared as integers (tuple order:
    sequence first, then sub-sequence) and stored as the string ``"<sequence>:<subSequence>"``.
    Named tuples, not dataclasses, because the rule path builds several per record.
    """

    sequence: int
    sub_sequence: int = 0

    def __str__(self) -> str:
        return f"{self.sequence}:{self.sub_sequence}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """Inverse of ``str()``; a bare sequence number means sub-sequence 0."""
        seq, _, sub = text.partition(":")
        if not seq.isdigit() or (sub and not sub.isdigit()):
            raise ValueError(f"not a record position: {text!r}")
        return cls(int(seq), int(sub or 0))


class AggregateKey(NamedTuple):
    vendor_id: int
    window_start_ms: int


@dataclass(slots=True)
class Contribution:
    """What one shard's records in a batch add to one aggregate item.

    ``records`` keeps (position, passengers) in shard order so that the part at or
    below a high-water mark can be dropped after a failed fence condition.
    """

    key: AggregateKey
    records: list[tuple[Position, int]] = field(default_factory=list)

    @property
    def trips(self) -> int:
        return len(self.records)

    @property
    def passenger(self) -> int:
        return sum(p for _, p in self.records)

    @property
    def first(self) -> Position:
        return self.records[0][0]

    @property
    def last(self) -> Position:
        return self.records[-1][0]

    def above(self, mark: Position | None) -> Contribution | None:
        """The part of this contribution not yet applied under ``mark``; None if nothing."""
        if mark is None:
            return self
        rest = [r for r in self.records if r[0] > mark]
        if not rest:
            return None
        return Contribution(self.key, rest)


class CleanRecord(NamedTuple):
    position: Position
    arrival_ms: int
    trip: Trip


def aggregate(records: Iterable[CleanRecord], window_seconds: int) -> dict[AggregateKey, Contribution]:
    """Sum a shard's clean records (in shard order) per (vendorId, windowStart)."""
    window_start_ms(0, window_seconds)  # validates window_seconds once
    width = window_seconds * 1000
    floor = window_floor  # a local: looked up once, called per record
    out: dict[AggregateKey, Contribution] = {}
    last: Position | None = None
    for position, arrival_ms, (vendor_id, passengers) in records:
        if last is not None and not last < position:
            raise ValueError(f"records out of shard order: {position} after {last}")
        last = position
        # a plain tuple finds the AggregateKey (equal and same hash); the named key is built
        # once per item, not per record
        key = (vendor_id, floor(arrival_ms, width))
        contribution = out.get(key)  # type: ignore[call-overload]
        if contribution is None:
            named = AggregateKey(*key)
            contribution = out[named] = Contribution(named)
        contribution.records.append((position, passengers))
    return out
