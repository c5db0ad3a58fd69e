"""Which shards get a pre-created lease at start-up, and where each starts (docs/startup.md).

KCL 3 makes every worker wait a random 1-30 s while its lease table is empty, and its
3.5 releases let two workers that start together race for the table's first rows (see
``consumer_app.dynamo.lease_table``).  Writing the leases before the JVM starts removes
both, but only where the result is exactly what KCL's own shard sync would have made:
one lease per shard, at the configured initial position.  A stream with a closed shard
has a lineage (parents must be read before their children), which KCL's hierarchical
shard sync knows how to turn into leases; there we write none and leave it to KCL.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Where a fresh lease starts: the stream's oldest record (nothing missed) or its newest.
TRIM_HORIZON = "TRIM_HORIZON"
LATEST = "LATEST"
#: The positions a fresh lease can start from without extra configuration, here once:
#: ``INITIAL_POSITION`` (consumer_app/settings.py) allows exactly these, the first by default.
POSITIONS = (TRIM_HORIZON, LATEST)


@dataclass(frozen=True)
class Shard:
    """What ListShards says about one shard."""

    shard_id: str
    starting_hash_key: str
    ending_hash_key: str
    open: bool  # no EndingSequenceNumber: still takes new records
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeaseSeed:
    """One lease row to create: the shard, its hash key range, its start position."""

    shard_id: str
    starting_hash_key: str
    ending_hash_key: str
    checkpoint: str


def initial_leases(shards: list[Shard], position: str) -> list[LeaseSeed]:
    """One lease per shard when every shard is open and has no listed parent; else none.

    An empty answer means "let KCL's shard sync create the leases": the stream has a
    lineage to respect, or it has no shard at all.
    """
    if position not in POSITIONS:
        raise ValueError(f"initial position {position!r}: one of {', '.join(POSITIONS)}")
    listed = {s.shard_id for s in shards}
    if any(not s.open or listed.intersection(s.parents) for s in shards):
        return []
    return [LeaseSeed(s.shard_id, s.starting_hash_key, s.ending_hash_key, position)
            for s in sorted(shards, key=lambda s: s.shard_id)]
