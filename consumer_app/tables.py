"""Names and key schemas of the DynamoDB tables the consumer writes (docs/design.md#tables).

One place for the contract: the writers build items with these attribute names, the
start-up check compares live tables with these schemas, and ``local up`` creates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TableSpec:
    """Key schema of a table: (attribute name, DynamoDB scalar type) for each key."""

    partition_key: tuple[str, str]
    sort_key: tuple[str, str] | None
    ttl_attribute: str | None = None

    def key_schema(self) -> dict[str, str]:
        """``{"vendorId": "HASH N", ...}``: a readable form used in messages and comparisons."""
        schema = {self.partition_key[0]: f"HASH {self.partition_key[1]}"}
        if self.sort_key:
            schema[self.sort_key[0]] = f"RANGE {self.sort_key[1]}"
        return schema

    def create_table_kwargs(self, name: str) -> dict[str, Any]:
        keys = [self.partition_key] + ([self.sort_key] if self.sort_key else [])
        return {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in keys],
            "KeySchema": [{"AttributeName": n, "KeyType": kind}
                          for (n, _), kind in zip(keys, ("HASH", "RANGE"), strict=False)],
        }


#: kinesisAggs: one item per vendor and tumbling window.
AGGREGATES = TableSpec(partition_key=("vendorId", "N"), sort_key=("windowStart", "S"))
#: Rejects (dead letters): one item per unclean record, keyed by its place in the stream.
REJECTS = TableSpec(partition_key=("shardId", "S"), sort_key=("sequence", "S"), ttl_attribute="expiresAt")
#: Watermarks (docs/windows.md): one item per shard (how far its records are durably
#: applied), and the finalizer's own item ``FINALITY_ITEM`` (how far windows are marked final).
WATERMARKS = TableSpec(partition_key=("shardId", "S"), sort_key=None)
FINALITY_ITEM = "~finality"


def watermarks_table_for(aggregates_table: str) -> str:
    """The default watermarks table: the aggregates table's companion."""
    return f"{aggregates_table}-watermarks"

#: On an aggregate item: ``final`` (BOOL) and ``finalAt`` (S) once its window is final.
FINAL = "final"
FINAL_AT = "finalAt"

#: Prefix of the per-shard high-water-mark attributes on aggregate items (docs/design.md#exactly-once).
MARK_PREFIX = "mark_"


def mark_attribute(shard_id: str) -> str:
    """``mark_shardId-000000000001``: last position of that shard applied to the item."""
    return f"{MARK_PREFIX}{shard_id}"
