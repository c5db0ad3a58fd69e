"""Exactly-once writes of aggregate contributions into kinesisAggs (docs/design.md#exactly-once).

One ``UpdateItem`` per (vendorId, windowStart): ``ADD passenger, trips`` and ``SET`` this
shard's high-water mark, on condition that the mark is what this process last saw (or
absent).  A failed condition returns the item (``ReturnValuesOnConditionCheckFailure``):
the records at or below its mark were already applied by someone, so they are dropped
and the rest is written against the new mark.  Writes for different items run in parallel.

Final windows (docs/windows.md): the condition also requires the item not to be
finalized (no ``final``).  Whether the records above the fence mark must be refused is
the rule ``rules.watermarks.refuses_new_records``; this adapter only fetches what it
needs (the item's mark, its ``final``).  Each :meth:`AggregateWriter.write` returns an
:class:`AggregateOutcome` with the refused parts for the caller to dead-letter, so nothing
is lost and a final window never changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from consumer_app.dynamo.attempts import AttemptRunner, UnitResult
from consumer_app.dynamo.errors import WriteFailed, error_code
from consumer_app.dynamo.watermarks import now_iso
from consumer_app.rules.aggregation import AggregateKey, Contribution, Position
from consumer_app.rules.sub_items import sort_key
from consumer_app.rules.watermarks import refuses_new_records
from consumer_app.rules.windows import iso_utc
from consumer_app.tables import FINAL, mark_attribute

_UNKNOWN = object()
_MAX_FENCE_ROUNDS = 50


@dataclass(frozen=True, slots=True)
class AggregateOutcome:
    """What one :meth:`AggregateWriter.write` came to, returned whole so that the caller
    reads one value per flush.  Failures are not in it: a contribution that cannot be made
    durable raises :class:`WriteFailed` (the processor then stops without a checkpoint)."""

    written: int = 0  # aggregate items updated (fenced UpdateItems made durable)
    replays_skipped: int = 0  # records at or below an item's fence mark: already applied
    refused: tuple[Contribution, ...] = ()  # parts refused: their window is final

    @property
    def refused_records(self) -> int:
        return sum(c.trips for c in self.refused)


class AggregateWriter:
    def __init__(self, client: Any, table: str, shard_id: str, window_seconds: int,
                 runner: AttemptRunner, mark_cache_size: int = 4096, sub_items: int = 1) -> None:
        self.client = client
        self.table = table
        self.shard_id = shard_id
        self.window_ms = window_seconds * 1000
        self.runner = runner
        self.mark_attr = mark_attribute(shard_id)
        self.sub_items = sub_items  # rules/sub_items.py: this shard always writes one of them
        self._marks: OrderedDict[AggregateKey, Position | None] = OrderedDict()
        self._cache_size = mark_cache_size
        self._lock = threading.Lock()
        #: the shard's published watermark (epoch ms): windows ending at or before it are
        #: complete as far as this shard is concerned
        self.claimed_through: int | None = None

    def write(self, contributions: list[Contribution]) -> AggregateOutcome:
        """Apply every contribution exactly once, or raise :class:`WriteFailed`; returns what
        was written, skipped as replays and refused."""
        if not contributions:
            return AggregateOutcome()
        totals = self.runner.run(f"aggregates {self.table}", contributions, self._write_one,
                                 "aggregate_writes")
        return AggregateOutcome(totals.succeeded, totals.skipped, totals.refused)

    def _remember(self, key: AggregateKey, mark: Position | None) -> None:
        with self._lock:
            self._marks[key] = mark
            self._marks.move_to_end(key)
            while len(self._marks) > self._cache_size:
                self._marks.popitem(last=False)

    def _write_one(self, contribution: Contribution) -> UnitResult[Contribution]:
        key = contribution.key
        window_end = key.window_start_ms + self.window_ms
        with self._lock:
            expected: Any = self._marks.get(key, _UNKNOWN)
        rest: Contribution | None = contribution.above(None if expected is _UNKNOWN else expected)
        if rest is not None and refuses_new_records(window_end, self.claimed_through):
            # this shard's watermark says these records are applied: only a replay may come
            # here, so read the item's mark (the cache may not know it) before deciding
            try:
                item = self.client.get_item(TableName=self.table, Key=self._key(key),
                                            ConsistentRead=True).get("Item")
            except Exception as exc:
                return UnitResult.failure(contribution, exc)
            expected = _mark_of(item, self.mark_attr)
            self._remember(key, expected)
            rest = contribution.above(expected)
            if rest is not None:  # new records after all: the rule above refuses them
                return UnitResult(skipped=contribution.trips - rest.trips, refused=[rest])
        for _ in range(_MAX_FENCE_ROUNDS):
            if rest is None:
                return UnitResult(skipped=contribution.trips)
            try:
                self.client.update_item(**self._request(rest, expected))
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    return UnitResult.failure(rest, exc, skipped=contribution.trips - rest.trips)
                item = exc.response.get("Item")
                actual = _mark_of(item, self.mark_attr)
                self._remember(key, actual)
                expected = actual
                rest = rest.above(actual)
                if rest is not None and refuses_new_records(window_end, self.claimed_through,
                                                            item_final=FINAL in (item or {})):
                    return UnitResult(skipped=contribution.trips - rest.trips, refused=[rest])
                continue
            except Exception as exc:  # connection errors and the like: classified, retried
                return UnitResult.failure(rest, exc, skipped=contribution.trips - rest.trips)
            self._remember(key, rest.last)
            return UnitResult(succeeded=1, skipped=contribution.trips - rest.trips)
        raise WriteFailed(f"aggregates {self.table}: the fence on {key} kept moving "
                          f"({_MAX_FENCE_ROUNDS} rounds): is another process writing shard "
                          f"{self.shard_id} out of order?")

    def _request(self, c: Contribution, expected: Any) -> dict[str, Any]:
        names = {"#m": self.mark_attr, "#fin": FINAL}
        values: dict[str, Any] = {
            ":p": {"N": str(c.passenger)},
            ":t": {"N": str(c.trips)},
            ":we": {"S": iso_utc(c.key.window_start_ms + self.window_ms)},
            ":new": {"S": str(c.last)},
            ":now": {"S": now_iso()},
        }
        if expected is _UNKNOWN or expected is None:
            condition = "attribute_not_exists(#m) AND attribute_not_exists(#fin)"
        else:
            condition = "#m = :old AND attribute_not_exists(#fin)"
            values[":old"] = {"S": str(expected)}
        return {
            "TableName": self.table,
            "Key": self._key(c.key),
            "UpdateExpression": "ADD passenger :p, trips :t SET windowEnd = :we, #m = :new, "
                                "updatedAt = :now",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }


    def _key(self, key: AggregateKey) -> dict[str, Any]:
        return {"vendorId": {"N": str(key.vendor_id)},
                "windowStart": {"S": sort_key(iso_utc(key.window_start_ms), self.shard_id,
                                              self.sub_items)}}


def _mark_of(item: dict[str, Any] | None, attr: str) -> Position | None:
    if not item or attr not in item:
        return None
    return Position.parse(item[attr]["S"])
