"""Read what a backend holds: aggregates, rejects, leases and checkpoints (for demo and tests)."""

from __future__ import annotations

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
