"""KCL's lease table: prepared before the JVM starts (``LEASE_BOOTSTRAP``; docs/startup.md),
and read by a blocked record processor to learn whether its lease moved (:func:`lease_owner`).

What KCL 3.5.1 does on a fresh table, read in its source and seen here:

- Every worker that finds the table empty waits a random 1-30 s
  (``Scheduler.shouldInitiateLeaseSync``), so the first record took 6-47 s locally.
- Two workers starting together both read "no migration state" and both try to create
  it; the loser's ``AbstractMigrationClientVersionState.enter`` throws, and because
  ``MigrationStateMachineImpl.initialize`` has already stored its starting version, each
  later attempt skips the state machine ("already initialized"): the ``leaderDecider is
  null`` NullPointerException, then ``AssignmentMode is not initialized``, 20 times, and
  the Scheduler gives up.
- Two workers can both send the ``UpdateTable`` that adds ``LeaseOwnerToLeaseKeyIndex``;
  the loser's error leaves that worker started without its lease assignment manager.

So, once per start, idempotently and safely beside other workers doing the same: create
the table with the index already in it, write the migration state that the first KCL
worker would write (``CLIENT_VERSION_3X``), and, if the table holds no lease, one lease per
shard (``consumer_app.rules.leases``).  Every write is conditional on the row being absent,
so a row KCL (or another worker) wrote first always wins.  The formats are KCL's own
(``DynamoDBLeaseSerializer``, ``MigrationState``); ``tests/integration/test_startup.py``
fails if a KCL upgrade stops taking them as its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from consumer_app.rules.leases import Shard, initial_leases

INDEX = "LeaseOwnerToLeaseKeyIndex"
MIGRATION_KEY = "Migration3.0"
CLIENT_VERSION = "CLIENT_VERSION_3X"


@dataclass(frozen=True)
class Bootstrap:
    """What one bootstrap did (logged by the worker)."""

    created_table: bool
    wrote_migration_state: bool
    leases_written: int
    leases_skipped_reason: str = ""

    def describe(self) -> str:
        parts = ["created the lease table" if self.created_table else "lease table present",
                 "wrote the migration state" if self.wrote_migration_state
                 else "migration state present",
                 f"{self.leases_written} leases written"]
        if self.leases_skipped_reason:
            parts.append(self.leases_skipped_reason)
        return ", ".join(parts)


def create_table_kwargs(table: str) -> dict[str, Any]:
    """The table KCL itself would create (on-demand), with its index from the start."""
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "leaseKey", "AttributeType": "S"},
                                 {"AttributeName": "leaseOwner", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": INDEX,
            "KeySchema": [{"AttributeName": "leaseOwner", "KeyType": "HASH"},
                          {"AttributeName": "leaseKey", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
    }


def migration_item(worker_id: str, now_ms: int) -> dict[str, Any]:
    """The row KCL writes when a new application starts directly in 3.x."""
    return {
        "leaseKey": {"S": MIGRATION_KEY},
        "entityType": {"S": "CLIENT_VERSION_MIGRATION"},
        "cv": {"S": CLIENT_VERSION},
        "mb": {"S": worker_id},
        "mts": {"N": str(now_ms)},
        "h": {"L": []},
    }


def lease_item(shard_id: str, starting_hash_key: str, ending_hash_key: str,
               checkpoint: str) -> dict[str, Any]:
    """An unowned lease as ``DynamoDBLeaseSerializer`` writes it (no owner: KCL assigns it)."""
    return {
        "leaseKey": {"S": shard_id},
        "entityType": {"S": "LEASE"},
        "leaseCounter": {"N": "0"},
        "checkpoint": {"S": checkpoint},
        "checkpointSubSequenceNumber": {"N": "0"},
        "ownerSwitchesSinceCheckpoint": {"N": "0"},
        "startingHashKey": {"S": starting_hash_key},
        "endingHashKey": {"S": ending_hash_key},
    }


def _put_if_absent(dynamodb: Any, table: str, item: dict[str, Any]) -> bool:
    try:
        dynamodb.put_item(TableName=table, Item=item,
                          ConditionExpression="attribute_not_exists(leaseKey)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def ensure_table(dynamodb: Any, table: str, timeout_s: float = 120) -> bool:
    """Create the table (with its index) unless it exists; wait until both are ACTIVE."""
    created = True
    try:
        dynamodb.create_table(**create_table_kwargs(table))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
        created = False
    deadline = time.monotonic() + timeout_s
    while True:
        desc = dynamodb.describe_table(TableName=table)["Table"]
        indexes = {i["IndexName"]: i.get("IndexStatus") for i in desc.get("GlobalSecondaryIndexes", [])}
        # a table made by KCL or by hand without the index: KCL adds it, as it always does
        if desc["TableStatus"] == "ACTIVE" and indexes.get(INDEX, "ACTIVE") == "ACTIVE":
            return created
        if time.monotonic() > deadline:
            raise TimeoutError(f"lease table {table} not ACTIVE after {timeout_s:.0f} s")
        time.sleep(0.2)


def has_leases(dynamodb: Any, table: str) -> bool:
    """Whether any lease row exists (KCL keeps other entities in the same table)."""
    kwargs: dict[str, Any] = {
        "TableName": table, "ConsistentRead": True, "ProjectionExpression": "leaseKey",
        "FilterExpression": "attribute_not_exists(entityType) OR entityType = :lease",
        "ExpressionAttributeValues": {":lease": {"S": "LEASE"}},
    }
    return any(page["Items"] for page in dynamodb.get_paginator("scan").paginate(**kwargs))


def list_shards(kinesis: Any, stream: str) -> list[Shard]:
    shards = []
    for page in kinesis.get_paginator("list_shards").paginate(StreamName=stream):
        for s in page["Shards"]:
            parents = tuple(p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p)
            shards.append(Shard(
                shard_id=s["ShardId"],
                starting_hash_key=s["HashKeyRange"]["StartingHashKey"],
                ending_hash_key=s["HashKeyRange"]["EndingHashKey"],
                open="EndingSequenceNumber" not in s["SequenceNumberRange"],
                parents=parents,
            ))
    return shards


def bootstrap(dynamodb: Any, kinesis: Any, table: str, stream: str, position: str,
              worker_id: str) -> Bootstrap:
    """Table, migration state, leases: each only if absent.  Safe to run on every start."""
    created = ensure_table(dynamodb, table)
    wrote_state = _put_if_absent(dynamodb, table, migration_item(worker_id, int(time.time() * 1000)))
    if has_leases(dynamodb, table):
        return Bootstrap(created, wrote_state, 0)
    seeds = initial_leases(list_shards(kinesis, stream), position)
    if not seeds:
        return Bootstrap(created, wrote_state, 0,
                         "the stream has closed shards: KCL's shard sync creates the leases")
    written = sum(_put_if_absent(dynamodb, table, lease_item(
        s.shard_id, s.starting_hash_key, s.ending_hash_key, s.checkpoint)) for s in seeds)
    return Bootstrap(created, wrote_state, written)


def lease_owner(dynamodb: Any, table: str, shard_id: str) -> str | None:
    """The worker that holds ``shard_id``'s lease now (None: no row or no owner).

    A blocked record processor cannot hear of a lost lease from the daemon, which waits for
    its answer; it asks here instead, with a consistent read."""
    item = dynamodb.get_item(TableName=table, Key={"leaseKey": {"S": shard_id}}, ConsistentRead=True,
                             ProjectionExpression="leaseOwner").get("Item") or {}
    return item.get("leaseOwner", {}).get("S")
