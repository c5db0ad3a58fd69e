"""The record processor's counters as CloudWatch metrics, in the Embedded Metric Format.

Each report turns what a processor counted since its previous report into EMF documents
(``aws-embedded-metrics``: its ``MetricsContext`` and ``LogSerializer``), one JSON object per
line on **stderr**: stdout is the MultiLangDaemon's protocol channel.  The daemon relays a
child's stderr lines as they are, so on ECS each reaches the awslogs driver as one log
event, from which CloudWatch extracts the metrics (docs/metrics.md).  The library's own
sinks are not used: they write to stdout or to a CloudWatch agent.

Namespace: the application name.  Dimensions: ``Stream`` (and ``Stream, ShardId`` when
``METRICS_SHARD_DIMENSION=on``); rejects also per ``Reason``.  Counts are deltas, so
CloudWatch's Sum over any period is the count in that period, across shards and workers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from aws_embedded_metrics.logger.metrics_context import MetricsContext
from aws_embedded_metrics.serializers.log_serializer import LogSerializer

from consumer_app.counters import ShardCounters

#: counter field -> metric name (unit Count); each report carries the delta since the last
COUNTS: dict[str, str] = {
    "records_in": "RecordsIn",
    "clean": "CleanRecords",
    "aggregate_writes": "AggregateWrites",
    "reject_writes": "RejectWrites",
    "skipped_replays": "ReplaysSkippedByFence",
    "throttled_writes": "ThrottledWrites",
    "all_failed": "ThrottledAttemptsAllFailed",
    "some_failed": "ThrottledAttemptsSomeFailed",
    "retries": "WriteRetries",
    "checkpoints": "Checkpoints",
    "batches": "Batches",
    "flushes": "Flushes",
    "watermarks": "WatermarkMoves",
    "watermark_races_lost": "WatermarkRacesLost",
    "late_records": "LateRecords",
    "refused_final": "RefusedForFinalWindow",
    "blocked_tries": "BlockedShardTries",
}
REJECTED = "RejectedRecords"
BEHIND = "MillisBehindLatest"
BATCH_TIME = "BatchProcessingTime"
#: how long a blocked shard has waited for its payload to be durable (a gauge; the alarm's)
BLOCKED = "ShardBlockedSeconds"
#: the finalizer's metrics (consumer_app/finality.py), same namespace and Stream dimension
WINDOWS_FINALIZED = "WindowsFinalized"
WATERMARK_LAG = "GlobalWatermarkLag"


@dataclass
class Emitter:
    """Turns a processor's counters into EMF lines; keeps what it already reported."""

    namespace: str
    stream: str
    shard_id: str
    with_shard: bool = False
    out: IO[str] = field(default_factory=lambda: sys.stderr)
    _last: dict[str, Any] = field(default_factory=dict)
    _behind_max: int | None = None
    _batch_ms: list[float] = field(default_factory=list)

    def observe_delivery(self, millis_behind_latest: int | None, batch_millis: float | None) -> None:
        """One delivery from KCL, for the next report: its lag, also on an idle poll (an idle
        shard reports 0, not nothing), and, for a batch with records, its processing time."""
        if batch_millis is not None:
            self._batch_ms.append(batch_millis)
        if millis_behind_latest is not None:
            self._behind_max = max(self._behind_max or 0, millis_behind_latest)

    def documents(self, counters: ShardCounters, final: bool = False) -> list[dict[str, Any]]:
        """The EMF documents for what happened since the last call: none if nothing did,
        unless ``final`` (the processor ends), whose report always has its main document."""
        snap = counters.snapshot()
        docs = []
        main = self._context()
        for key, name in COUNTS.items():
            delta = snap[key] - self._last.get(key, 0)
            if delta or (final and key == "records_in"):
                main.put_metric(name, delta, "Count")
        if self._behind_max is not None:
            main.put_metric(BEHIND, self._behind_max, "Milliseconds")
        if counters.blocked_seconds is not None:
            main.put_metric(BLOCKED, round(counters.blocked_seconds, 1), "Seconds")
        for value in self._batch_ms:  # the serializer splits more than 100 values over documents
            main.put_metric(BATCH_TIME, round(value, 3), "Milliseconds")
        if main.metrics:
            docs += _serialize(main)
        last_rejected = self._last.get("rejected", {})
        for reason, n in sorted(snap["rejected"].items()):
            delta = n - last_rejected.get(reason, 0)
            if delta:
                ctx = self._context(Reason=reason)
                ctx.put_metric(REJECTED, delta, "Count")
                docs += _serialize(ctx)
        self._last = snap
        self._behind_max = None
        self._batch_ms = []
        return docs

    def emit(self, counters: ShardCounters, final: bool = False) -> int:
        """Write the documents as single lines on stderr; returns how many."""
        docs = self.documents(counters, final)
        for doc in docs:
            self.out.write(json.dumps(doc, separators=(",", ":")) + "\n")
        if docs:
            self.out.flush()
        return len(docs)

    def _context(self, **extra: str) -> MetricsContext:
        ctx = stream_context(self.namespace, self.stream, **extra)
        if self.with_shard:
            base = {"Stream": self.stream, **extra}
            ctx.set_dimensions([base, {**base, "ShardId": self.shard_id}], use_default=False)
        ctx.set_property("shard", self.shard_id)  # in the event, not a dimension
        return ctx


def stream_context(namespace: str, stream: str, **extra: str) -> MetricsContext:
    """The one way a metrics context is made: the namespace, and the ``Stream`` dimension (with
    ``extra`` ones, such as ``Reason``); the processors' and the finalizer's lines alike."""
    ctx = MetricsContext(namespace=namespace)
    ctx.set_dimensions([{"Stream": stream, **extra}], use_default=False)
    return ctx


def emf_lines(ctx: MetricsContext) -> list[str]:
    """A metrics context as EMF lines (more than 100 values are split over several)."""
    return list(LogSerializer.serialize(ctx))


def _serialize(ctx: MetricsContext) -> list[dict[str, Any]]:
    return [json.loads(line) for line in emf_lines(ctx)]


def is_emf(doc: dict[str, Any]) -> bool:
    """A JSON log line that is one of these metric documents."""
    return "_aws" in doc and "CloudWatchMetrics" in doc["_aws"]


def total(docs: Iterable[dict[str, Any]], counter: str) -> int:
    """A counter summed over every record processor, from their log lines' EMF documents."""
    name = COUNTS[counter]
    return int(sum(doc.get(name, 0) for doc in docs if is_emf(doc)))
