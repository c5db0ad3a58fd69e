"""Names and key schemas of the DynamoDB tables the consumer writes (docs/design.md#tables).

One place for the contract: the writers build items with these attribute names, the
start-up check compares live tables with these schemas, and ``local up`` creates them.
Readers of aggregate items decode them here too (:func:`decode_aggregate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consumer_app.rules.sub_items import window_of


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


#: The attributes of an aggregate item (kinesisAggs).  Its key: the vendor, and the window
#: start (``<windowStart>#<k>`` for a sub-item, rules/sub_items.py).
VENDOR_ID = "vendorId"
WINDOW_START = "windowStart"
#: What the records add (``ADD``), the window's end and the last contribution's time (``SET``).
PASSENGER = "passenger"
TRIPS = "trips"
WINDOW_END = "windowEnd"
UPDATED_AT = "updatedAt"

#: kinesisAggs: one item per vendor and tumbling window.
AGGREGATES = TableSpec(partition_key=(VENDOR_ID, "N"), sort_key=(WINDOW_START, "S"))
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


@dataclass(frozen=True)
class AggregateItem:
    """One aggregate item as read back: the one decoding of its attributes that every reader
    uses (``windows``, the reconciliation, the chaos harness), so a renamed attribute or a
    new one changes here only."""

    vendor_id: int
    sort_key: str  # the window start, and the sub-item when there are several (``#<k>``)
    window_end: str | None
    passenger: int
    trips: int
    updated_at: str | None  # when the last contribution was written
    final: bool
    final_at: str | None
    marks: dict[str, str]  # shard id -> the last position of that shard applied (the fence)

    @property
    def window_start(self) -> str:
        """The window start, without the sub-item."""
        return window_of(self.sort_key)


def decode_aggregate(item: Mapping[str, Any]) -> AggregateItem:
    """An aggregate item in DynamoDB JSON (a Scan's, a Query's or a GetItem's), decoded.

    Only ``vendorId`` is required: an attribute that a projection or a hand-made item leaves
    out reads as absent (0, False, None; an empty sort key).
    """
    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else str(value["S"])

    def number(name: str) -> int:
        value = item.get(name)
        return 0 if value is None else int(value["N"])

    return AggregateItem(
        vendor_id=int(item[VENDOR_ID]["N"]),
        sort_key=text(WINDOW_START) or "",
        window_end=text(WINDOW_END),
        passenger=number(PASSENGER),
        trips=number(TRIPS),
        updated_at=text(UPDATED_AT),
        final=bool(item.get(FINAL, {}).get("BOOL", False)),
        final_at=text(FINAL_AT),
        marks={name[len(MARK_PREFIX):]: str(value["S"]) for name, value in item.items()
               if name.startswith(MARK_PREFIX)},
    )
