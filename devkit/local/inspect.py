"""Read what a backend holds: aggregates, rejects, leases and checkpoints (for demo and tests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any


def scan_all(dynamodb: Any, table: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True,
                                                         **kwargs):
        items += page["Items"]
    return items


def leases(dynamodb: Any, application: str) -> dict[str, dict[str, str]]:
    """shardId -> {owner, checkpoint} from the KCL lease table (empty if not created yet)."""
    try:
        items = scan_all(dynamodb, application)
    except dynamodb.exceptions.ResourceNotFoundException:
        return {}
    out = {}
    for it in items:
        key = it.get("leaseKey", {}).get("S", "")
        if not key.startswith("shardId-"):
            continue  # KCL 3 also keeps worker metrics and coordinator rows here
        out[key] = {
            "owner": it.get("leaseOwner", {}).get("S", "-"),
            "checkpoint": it.get("checkpoint", {}).get("S", "-"),
        }
    return out


def owners(dynamodb: Any, application: str) -> Counter[str]:
    """worker -> leases it holds (unowned leases left out)."""
    return Counter(v["owner"] for v in leases(dynamodb, application).values() if owned(v))


def owned(lease: dict[str, str]) -> bool:
    return lease["owner"] not in ("-", "")


def started(lease: dict[str, str]) -> bool:
    """Checkpointed past its start: records of this shard have been processed."""
    return lease["checkpoint"] not in ("TRIM_HORIZON", "-")


def _reached(checkpoint: str, last_sequence: str) -> bool:
    if checkpoint == "SHARD_END":
        return True
    return checkpoint.isdigit() and int(checkpoint) >= int(last_sequence)


def behind(dynamodb: Any, application: str, summary: dict[str, Any]) -> dict[str, str]:
    """Shards whose checkpoint has not reached the producer's last record: shard -> checkpoint."""
    current = leases(dynamodb, application)
    out = {}
    for shard, info in summary.get("shards", {}).items():
        cp = current.get(shard, {}).get("checkpoint", "none")
        if not _reached(cp, info["lastSequence"]):
            out[shard] = cp
    return out


def wait_drained(dynamodb: Any, application: str, summary: dict[str, Any], timeout_s: float,
                 poll_s: float = 1.0, check: Callable[[], None] | None = None) -> dict[str, str]:
    """Wait until every shard is checkpointed at its last produced record; returns what is behind.

    ``check`` runs on every poll and may raise (a supervisor's check for workers that died).
    """
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        if check is not None:
            check()
        left = behind(dynamodb, application, summary)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(poll_s)
