"""The watermarks table: one item per shard, and the finalizer's item (docs/windows.md).

A shard's item: ``watermark`` (N, epoch ms), ``vendors`` (NS: every vendor the shard has
written, so that the finalizer knows which aggregate partitions to look at), ``position``
(S, the checkpoint it was published with), ``ended`` (BOOL, after SHARD_END) and
``updatedAt``.  The fence: a watermark only moves forward (``watermark <= :new``), so a
processor that lost its lease, or restarted from an older checkpoint, cannot move it
back.  A higher value written by someone else is just as true (it too was published only
after its records were durable), so losing that race is not an error.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from consumer_app.dynamo.attempts import AttemptRunner, UnitResult
from consumer_app.dynamo.errors import error_code
from consumer_app.rules.watermarks import PublishedWatermark
from consumer_app.rules.windows import iso_utc_micros
from consumer_app.tables import FINALITY_ITEM


def _watermark_of(item: dict[str, Any] | None) -> int | None:
    return int(item["watermark"]["N"]) if item and "watermark" in item else None


def now_iso() -> str:
    """The time stamped on every item the consumer writes (``updatedAt``, ``finalAt``)."""
    return iso_utc_micros(time.time_ns() // 1_000)


class WatermarkStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    # -- a record processor's side ----------------------------------------------------
    def read(self, shard_id: str) -> int | None:
        """The shard's published watermark (consistent read), None if it has none."""
        return _watermark_of(self.client.get_item(TableName=self.table, Key={"shardId": {"S": shard_id}},
                                                  ConsistentRead=True).get("Item"))

    def publish(self, runner: AttemptRunner, shard_id: str, watermark_ms: int | None,
                vendors: set[int], position: str, ended: bool = False) -> int | None:
        """Move the shard's watermark forward (and/or flag it ended); returns the table's
        watermark afterwards: this one, or a higher one someone else wrote."""
        request = self._publish_request(shard_id, watermark_ms, vendors, position, ended)
        held: list[int | None] = [watermark_ms]

        def write(req: dict[str, Any]) -> UnitResult[dict[str, Any]]:
            try:
                self.client.update_item(**req)
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    # another processor of this shard published a higher one: a lost race,
                    # not a replay
                    held[0] = _watermark_of(exc.response.get("Item"))
                    return UnitResult(lost_races=1)
                return UnitResult.failure(req, exc)
            except Exception as exc:
                return UnitResult.failure(req, exc)
            return UnitResult(succeeded=1)

        runner.run(f"watermark {self.table}", [request], write, "watermarks")
        return held[0]

    def _publish_request(self, shard_id: str, watermark_ms: int | None, vendors: set[int],
                         position: str, ended: bool) -> dict[str, Any]:
        sets = ["updatedAt = :now", "#pos = :pos"]
        values: dict[str, Any] = {":now": {"S": now_iso()}, ":pos": {"S": position}}
        condition = None
        if watermark_ms is not None:
            sets.append("watermark = :w")
            values[":w"] = {"N": str(watermark_ms)}
            condition = "attribute_not_exists(watermark) OR watermark <= :w"
        if ended:
            sets.append("ended = :true")
            values[":true"] = {"BOOL": True}
        expression = "SET " + ", ".join(sets)
        if vendors:
            expression += " ADD vendors :v"
            values[":v"] = {"NS": sorted(str(v) for v in vendors)}
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"shardId": {"S": shard_id}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {"#pos": "position"},
            "ExpressionAttributeValues": values,
        }
        if condition:
            request["ConditionExpression"] = condition
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return request

    # -- the finalizer's side ---------------------------------------------------------
    def scan(self) -> tuple[dict[str, PublishedWatermark], set[int], int | None]:
        """Every shard's published watermark, the vendors any shard wrote, and how far
        windows are final."""
        published: dict[str, PublishedWatermark] = {}
        vendors: set[int] = set()
        through = None
        for page in self.client.get_paginator("scan").paginate(TableName=self.table, ConsistentRead=True):
            for item in page.get("Items", []):
                key = item["shardId"]["S"]
                if key == FINALITY_ITEM:
                    through = int(item["finalThrough"]["N"]) if "finalThrough" in item else None
                    continue
                published[key] = PublishedWatermark(_watermark_of(item),
                                                    bool(item.get("ended", {}).get("BOOL", False)))
                vendors.update(int(v) for v in item.get("vendors", {}).get("NS", []))
        return published, vendors, through

    def record_finality(self, through_ms: int, global_ms: int) -> None:
        """Windows ending at or before ``through_ms`` are all finalized (never moves back)."""
        try:
            self.client.update_item(
                TableName=self.table, Key={"shardId": {"S": FINALITY_ITEM}},
                UpdateExpression="SET finalThrough = :t, globalWatermark = :g, updatedAt = :now",
                ConditionExpression="attribute_not_exists(finalThrough) OR finalThrough <= :t",
                ExpressionAttributeValues={":t": {"N": str(through_ms)}, ":g": {"N": str(global_ms)},
                                           ":now": {"S": now_iso()}})
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
