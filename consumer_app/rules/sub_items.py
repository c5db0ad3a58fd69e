"""Write sharding of the hot aggregate items (pure; docs/scale.md).

Every shard adds into the same few (vendor, window) items, and each item carries one fence
mark per shard, so both its write rate and its size grow with the shard count: at a few
hundred shards one item needs more than the 1,000 write units per second that DynamoDB
gives a single item.  With ``AGGREGATE_SUB_ITEMS = n > 1`` a (vendor, window) aggregate is
split into ``n`` sub-items, one sort key each (``<windowStart>#<k>``); a shard always
writes the same one, so the fence (docs/design.md#exactly-once) works per sub-item unchanged.  Readers add
the sub-items of a window up (:func:`window_of`, or a Query with ``begins_with``).
With ``n = 1`` the sort key is the window start alone, as before.
"""

from __future__ import annotations

import zlib

MAX_SUB_ITEMS = 1000
SEPARATOR = "#"


def sub_item(shard_id: str, count: int) -> int:
    """The sub-item (0..count-1) that a shard writes: spread evenly over consecutive shards."""
    if not 1 <= count <= MAX_SUB_ITEMS:
        raise ValueError(f"sub-item count must be 1..{MAX_SUB_ITEMS}, got {count}")
    _, _, number = shard_id.rpartition("-")
    if number.isascii() and number.isdigit():
        n = int(number)
    else:
        n = zlib.crc32(shard_id.encode("utf-8", "surrogatepass"))
    return n % count


def sort_key(window_start_iso: str, shard_id: str, count: int) -> str:
    """The item's sort key: the window start, and the sub-item when there are several."""
    if count == 1:
        return window_start_iso
    width = len(str(count - 1))
    return f"{window_start_iso}{SEPARATOR}{sub_item(shard_id, count):0{width}d}"


def window_of(sort_key_value: str) -> str:
    """The window start of an item's sort key (with or without a sub-item)."""
    return sort_key_value.split(SEPARATOR, 1)[0]
