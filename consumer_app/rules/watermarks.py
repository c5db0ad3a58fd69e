"""Watermarks and final windows (pure; docs/windows.md).

A shard's **watermark** W is a time such that every record of that shard whose
``approximateArrivalTimestamp`` is before W has been durably applied.  A window
[start, end) is **final** once every shard that can still add to it has W >= end: the
open shards, closed parents until their processor reached SHARD_END, and children from
the moment they exist (a child that has not published a watermark yet holds finality
back; so does any shard without one).

Two ways move a shard's W, both minus a safety margin M (``WATERMARK_MARGIN_MILLIS``):

* **records**: after records with arrival times up to A, W = A - M.  Arrival times are
  set by Kinesis on receipt and are not promised to be monotonic within a shard; M
  bounds how far one may step back.  A record that arrives below the published W anyway
  is counted as *late*; if its window was already final it is refused (and dead-lettered).
* **idle**: a batch with ``millisBehindLatest == 0`` proves the shard held nothing more
  when it was *fetched*, not when it was delivered: KCL's polling keeps up to
  ``maxPendingProcessRecordsInput`` (4) results in a queue and ShardConsumer up to 8 more
  in its buffer.  A result's fetch started after the delivery ``FETCH_DEPTH`` deliveries
  earlier, so W may move to *that* delivery's time - M, never to "now".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from consumer_app.rules.windows import window_floor

#: How many deliveries back a delivered result's fetch can have started, at most: KCL
#: 3.5's polling queue (``PollingConfig.maxPendingProcessRecordsInput``, 4) + the
#: ShardConsumer's buffer (8, Scheduler) + one result in each hand-over, rounded up.
FETCH_DEPTH = 16


@dataclass
class ShardWatermark:
    """One shard's watermark as its record processor keeps it.

    ``candidate`` holds once every record delivered so far is durable: the processor
    publishes it after the checkpoint that follows a flush (``due``), not per record.
    ``published`` is what the watermarks table holds (read at start, then written).
    """

    margin_ms: int
    published: int | None = None
    candidate: int | None = None
    fetch_depth: int = FETCH_DEPTH  # deliveries between a fetch and its delivery, at most
    _deliveries: deque[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deliveries = deque(maxlen=self.fetch_depth + 1)

    def delivered(self, now_ms: int, max_arrival_ms: int | None, millis_behind: int | None) -> None:
        """One batch delivered at ``now_ms`` (wall clock), empty or not."""
        self._deliveries.append(now_ms)
        bound = None if max_arrival_ms is None else max_arrival_ms - self.margin_ms
        if millis_behind == 0 and len(self._deliveries) == self._deliveries.maxlen:
            # the oldest remembered delivery is fetch_depth deliveries before this one
            tip = self._deliveries[0] - self.margin_ms
            bound = tip if bound is None else max(bound, tip)
        if bound is not None and (self.candidate is None or bound > self.candidate):
            self.candidate = bound

    def late(self, arrival_ms: int) -> bool:
        """A record below the published watermark: the watermark had claimed it applied."""
        return self.published is not None and arrival_ms < self.published

    def due(self) -> int | None:
        """The value to publish, if it moves the watermark forward."""
        if self.candidate is not None and (self.published is None or self.candidate > self.published):
            return self.candidate
        return None

    def saw_published(self, value: int | None) -> None:
        """The table holds ``value`` (written by this processor or, higher, by another)."""
        if value is not None and (self.published is None or value > self.published):
            self.published = value


class PublishedWatermark(NamedTuple):
    """A shard's item in the watermarks table, as the finalizer reads it."""

    watermark_ms: int | None
    ended: bool = False  # its processor checkpointed SHARD_END: it adds nothing any more


def waiting_for(shards: Iterable[str], published: Mapping[str, PublishedWatermark]) -> list[str]:
    """The shards that hold every window back: not ended, and without a watermark yet."""
    return [s for s in shards if (w := published.get(s)) is None or (w.watermark_ms is None and not w.ended)]


def global_watermark(shards: Iterable[str], published: Mapping[str, PublishedWatermark]) -> int | None:
    """The minimum watermark over the shards that can still add (None: some shard has none).

    ``shards``: every shard the stream lists (open, closed within retention, children).
    A shard without a published watermark holds everything back; an ended one, nothing.
    """
    shards = list(shards)
    if waiting_for(shards, published):
        return None
    adding = [w.watermark_ms for s in shards if not (w := published[s]).ended and w.watermark_ms is not None]
    return min(adding, default=None)


def final_through(global_ms: int | None, window_seconds: int) -> int | None:
    """The end of the last final window: the largest window end <= the global watermark."""
    if global_ms is None:
        return None
    return window_floor(global_ms, window_seconds * 1000)


def is_final(window_end_ms: int, through_ms: int | None) -> bool:
    return through_ms is not None and window_end_ms <= through_ms


def refuses_new_records(window_end_ms: int, own_watermark_ms: int | None, item_final: bool = False) -> bool:
    """Whether records new to an aggregate item (above its fence mark: no replay) must be
    refused rather than added.

    A finalized window never changes, and a window ending at or before this shard's own
    published watermark was claimed complete by it, item or no item.  Either way the
    watermark lied; adding would change a total readers may already trust, so the records
    are refused and dead-lettered instead.
    """
    return item_final or (own_watermark_ms is not None and window_end_ms <= own_watermark_ms)
