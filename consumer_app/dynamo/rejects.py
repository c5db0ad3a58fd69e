"""Unclean records into the rejects table, with ``BatchWriteItem`` (25 per call).

Items are keyed by (shardId, position), so a replay overwrites the same item and the
count of rejects stays exact.  ``UnprocessedItems`` are throttled writes: only those are
retried; an error for the whole call fails all of its items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consumer_app.dynamo.attempts import AttemptRunner, UnitResult
from consumer_app.rules.aggregation import Position
from consumer_app.rules.retry import ErrorKind
from consumer_app.rules.windows import iso_utc_millis

BATCH_LIMIT = 25  # DynamoDB's limit; moto accepts more, AWS refuses


@dataclass(frozen=True, slots=True)
class Reject:
    position: Position
    arrival_ms: int
    partition_key: str
    reason: str
    detail: str
    payload: bytes


def _safe_text(text: str) -> str:
    """Valid Unicode only: a hostile payload can put lone surrogates (``"\\ud800"``) into a
    key name that ends up in ``detail``; DynamoDB would refuse the item, forever."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class RejectWriter:
    def __init__(self, client: Any, table: str, shard_id: str, runner: AttemptRunner,
                 ttl_days: int, payload_max_bytes: int) -> None:
        self.client = client
        self.table = table
        self.shard_id = shard_id
        self.runner = runner
        self.ttl_s = ttl_days * 86_400
        self.payload_max = payload_max_bytes

    def write(self, rejects: list[Reject]) -> None:
        if not rejects:
            return
        items = [self._item(r) for r in rejects]
        chunks = [items[i:i + BATCH_LIMIT] for i in range(0, len(items), BATCH_LIMIT)]
        self.runner.run(f"rejects {self.table}", chunks, self._write_chunk, "reject_writes")

    def _item(self, r: Reject) -> dict[str, Any]:
        return {
            "shardId": {"S": self.shard_id},
            "sequence": {"S": str(r.position)},
            "reason": {"S": r.reason},
            "detail": {"S": _safe_text(r.detail[:500]) or "-"},
            "partitionKey": {"S": _safe_text(r.partition_key[:256]) or "-"},
            "payload": {"B": r.payload[: self.payload_max]},
            "payloadBytes": {"N": str(len(r.payload))},
            "truncated": {"BOOL": len(r.payload) > self.payload_max},
            "arrivedAt": {"S": iso_utc_millis(r.arrival_ms)},
            "expiresAt": {"N": str(r.arrival_ms // 1000 + self.ttl_s)},
        }

    def _write_chunk(self, chunk: list[dict[str, Any]]) -> UnitResult[list[dict[str, Any]]]:
        try:
            resp = self.client.batch_write_item(
                RequestItems={self.table: [{"PutRequest": {"Item": it}} for it in chunk]}
            )
        except Exception as exc:
            return UnitResult.failure(chunk, exc, writes=len(chunk))
        left = [u["PutRequest"]["Item"] for u in resp.get("UnprocessedItems", {}).get(self.table, [])]
        done = len(chunk) - len(left)
        if not left:
            return UnitResult(succeeded=done)
        return UnitResult(succeeded=done, failed=[(left, ErrorKind.THROTTLED, len(left))],
                          last_error="UnprocessedItems")
