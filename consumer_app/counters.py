"""Per-shard counters, reported in the logs at a bounded rate."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ShardCounters:
    records_in: int = 0
    clean: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    aggregate_writes: int = 0
    reject_writes: int = 0
    skipped_replays: int = 0  # records already applied (at or below a fence mark)
    throttled_writes: int = 0  # individual writes refused with a throttling error
    retries: int = 0  # attempts after the first
    all_failed: int = 0  # attempts in which every write failed
    some_failed: int = 0  # attempts in which only some writes failed
    batches: int = 0
    flushes: int = 0  # writes of a pending window (one per batch when FLUSH_INTERVAL_MILLIS=0)
    checkpoints: int = 0
    watermarks: int = 0  # watermark moves written (docs/windows.md)
    watermark_races_lost: int = 0  # publishes that found a higher watermark already written
    late_records: int = 0  # records that arrived before the shard's published watermark
    refused_final: int = 0  # records refused because their window was already final
    blocked_tries: int = 0  # failed tries of a payload after a whole retry budget
    blocked_seconds: float | None = None  # since the shard's first such try (None: not blocked)
    millis_behind_latest: int | None = None

    def snapshot(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["rejected"] = dict(self.rejected)
        return doc


class Reporter:
    """Decides when the counters are due for a log line: at most once per interval."""

    def __init__(self, interval_s: float, now: float) -> None:
        self.interval_s = interval_s
        self._next = now + interval_s

    def due(self, now: float) -> bool:
        if now >= self._next:
            self._next = now + self.interval_s
            return True
        return False
