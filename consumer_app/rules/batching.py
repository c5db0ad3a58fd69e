"""The batching window: what a record processor holds between two flushes (pure).

The KCL counterpart of the Lambda event source's ``MaximumBatchingWindowInSeconds``:
instead of writing every batch, a processor adds batches up and writes them at most once
per interval, then checkpoints.  Fewer, larger writes: one ``UpdateItem`` per (vendor,
window) per flush instead of per batch, which is what keeps the hot aggregate items cool.

Nothing here is durable.  Whatever is pending when a lease is lost is simply dropped:
the checkpoint has not moved past it, so the next owner reads it again, and the fence
counts it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from consumer_app.rules.aggregation import AggregateKey, Contribution, Position

R = TypeVar("R")

#: Write at once when this many records are pending, whatever the interval says: as Lambda
#: invokes on a full batch before its window ends.  A full GetRecords batch (``maxRecords``)
#: already costs few writes per record, and waiting would only delay a backlog's checkpoints.
FLUSH_AT_RECORDS = 10_000


@dataclass
class Pending(Generic[R]):
    """Contributions and rejects of the batches since the last flush, in shard order."""

    contributions: dict[AggregateKey, Contribution] = field(default_factory=dict)
    rejects: list[R] = field(default_factory=list)
    last: Position | None = None  # the last record delivered (clean or not)
    records: int = 0
    since: float | None = None  # when the first pending batch arrived (monotonic seconds)

    def add(self, contributions: dict[AggregateKey, Contribution], rejects: list[R],
            last: Position | None, records: int, now: float) -> None:
        """Add one batch (its contributions, rejects and last position) after the pending ones."""
        if last is None:
            return
        if self.last is not None and not self.last < last:
            raise ValueError(f"batch out of shard order: {last} after {self.last}")
        for key, c in contributions.items():
            held = self.contributions.get(key)
            if held is None:
                self.contributions[key] = Contribution(key, list(c.records))
            else:
                held.records.extend(c.records)
        self.rejects.extend(rejects)
        self.last = last
        self.records += records
        if self.since is None:
            self.since = now

    def due(self, now: float, interval_s: float) -> bool:
        """Time to write: the interval since the first pending batch is over, or a batch's worth
        of records is pending."""
        if self.since is None:
            return False
        return now - self.since >= interval_s or self.records >= FLUSH_AT_RECORDS

    def take(self) -> tuple[list[Contribution], list[R], Position | None]:
        """Everything pending, and an empty window for the next batches."""
        out = (list(self.contributions.values()), self.rejects, self.last)
        self.contributions, self.rejects, self.last, self.records, self.since = {}, [], None, 0, None
        return out
