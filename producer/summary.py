"""The producer's account of what it sent: what the consumer must end up with."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from producer.trips import Generated


@dataclass
class Summary:
    sent: int = 0
    clean: int = 0
    unclean: Counter[str] = field(default_factory=Counter)
    passenger: Counter[int] = field(default_factory=Counter)
    trips: Counter[int] = field(default_factory=Counter)
    shards: dict[str, str] = field(default_factory=dict)  # shard -> highest sequence number
    records_per_shard: Counter[str] = field(default_factory=Counter)
    retried_entries: int = 0
    throttled_calls: int = 0

    def add(self, rec: Generated, shard_id: str, sequence: str) -> None:
        self.sent += 1
        self.records_per_shard[shard_id] += 1
        if shard_id not in self.shards or int(sequence) > int(self.shards[shard_id]):
            self.shards[shard_id] = sequence
        if rec.kind == "clean":
            assert rec.vendor_id is not None and rec.passengers is not None
            self.clean += 1
            self.trips[rec.vendor_id] += 1
            self.passenger[rec.vendor_id] += rec.passengers
        else:
            self.unclean[rec.kind] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "clean": self.clean,
            "unclean": {"total": sum(self.unclean.values()), "byReason": dict(sorted(self.unclean.items()))},
            "vendors": {str(v): {"passenger": self.passenger[v], "trips": self.trips[v]}
                        for v in sorted(self.trips)},
            "shards": {s: {"records": self.records_per_shard[s], "lastSequence": self.shards[s]}
                       for s in sorted(self.shards)},
            "retriedEntries": self.retried_entries,
            "throttledCalls": self.throttled_calls,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        """The inverse of ``to_json`` (a summary printed by ``python -m producer``)."""
        out = cls(sent=int(data["sent"]), clean=int(data["clean"]),
                  unclean=Counter({k: int(v) for k, v in data["unclean"]["byReason"].items()}),
                  retried_entries=int(data.get("retriedEntries", 0)),
                  throttled_calls=int(data.get("throttledCalls", 0)))
        for vendor, t in data["vendors"].items():
            out.trips[int(vendor)] = int(t["trips"])
            out.passenger[int(vendor)] = int(t["passenger"])
        for shard, info in data["shards"].items():
            out.shards[shard] = info["lastSequence"]
            out.records_per_shard[shard] = int(info["records"])
        return out

    def absorb(self, other: Summary) -> None:
        """Add another run's account to this one (several producer runs, one check)."""
        self.sent += other.sent
        self.clean += other.clean
        self.retried_entries += other.retried_entries
        self.throttled_calls += other.throttled_calls
        for mine, theirs in ((self.unclean, other.unclean), (self.passenger, other.passenger),
                             (self.trips, other.trips), (self.records_per_shard, other.records_per_shard)):
            mine.update(theirs)
        for shard, seq in other.shards.items():
            if shard not in self.shards or int(seq) > int(self.shards[shard]):
                self.shards[shard] = seq
