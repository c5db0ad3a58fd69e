"""PutRecords with retry of the failed entries only, and throttling backoff.

botocore's own retries are off (one attempt per call): the sender sees each throttled
entry, counts it, and resends only the entries that failed (``FailedRecordCount``), so a
record is never written twice by a retry of records that had already succeeded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from producer.summary import Summary
from producer.trips import Generated

MAX_BATCH = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
_RETRYABLE_CALL = {"ProvisionedThroughputExceededException", "LimitExceededException",
                   "ThrottlingException", "InternalFailure", "ServiceUnavailable",
                   "KMSThrottlingException"}


class SendFailed(RuntimeError):
    pass


def batches(records: Sequence[Generated]) -> list[list[Generated]]:
    """Split into PutRecords calls: at most 500 entries and 5 MiB each."""
    out: list[list[Generated]] = []
    cur: list[Generated] = []
    size = 0
    for r in records:
        n = len(r.data) + len(r.partition_key.encode())
        if cur and (len(cur) == MAX_BATCH or size + n > MAX_BATCH_BYTES):
            out.append(cur)
            cur, size = [], 0
        cur.append(r)
        size += n
    if cur:
        out.append(cur)
    return out


class Sender:
    def __init__(self, client: Any, stream: str, summary: Summary, max_retry_s: float = 300.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.stream = stream
        self.summary = summary
        self.max_retry_s = max_retry_s
        self.sleep = sleep

    def send(self, records: Sequence[Generated]) -> None:
        for batch in batches(records):
            self._send_batch(batch)

    def _send_batch(self, pending: list[Generated]) -> None:
        start = time.monotonic()
        attempt = 0
        while pending:
            attempt += 1
            try:
                resp = self.client.put_records(
                    StreamName=self.stream,
                    Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in pending],
                )
            except (ClientError, BotoConnectionError, HTTPClientError) as exc:
                # HTTPClientError: the connection closed or timed out mid-call (the stream
                # restarting, say); the batch may have been written, and is sent again
                code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else "connection"
                if code not in _RETRYABLE_CALL and code != "connection":
                    raise SendFailed(f"PutRecords to {self.stream}: {code}: {exc}") from None
                self.summary.throttled_calls += 1
                self._backoff(attempt, start, code)
                continue
            failed: list[Generated] = []
            for rec, entry in zip(pending, resp["Records"], strict=True):
                if "ErrorCode" in entry:
                    failed.append(rec)
                else:
                    self.summary.add(rec, entry["ShardId"], entry["SequenceNumber"])
            if failed:
                self.summary.retried_entries += len(failed)
                self._backoff(attempt, start, f"{len(failed)} failed entries")
            pending = failed

    def _backoff(self, attempt: int, start: float, why: str) -> None:
        if time.monotonic() - start > self.max_retry_s:
            raise SendFailed(f"PutRecords to {self.stream}: still failing after "
                             f"{self.max_retry_s:.0f}s ({why})")
        self.sleep(random.random() * min(5.0, 0.05 * 2 ** min(attempt, 10)))
