"""``python -m consumer_app finalize``: finalize aggregate items (docs/windows.md).

One light process beside the workers (a separate ECS service of one task), not the record
processors: a pass needs the stream's shard list (``ListShards``) and every shard's
watermark (a ``Scan``), which per processor would cost shards x shards reads per interval
and put a per-stream API limit on the data path; one process does it once per interval,
and a slow or failing pass never holds a shard back.  Each pass:

1. lists every shard of the stream (open, closed within retention, new children);
2. reads every shard's watermark and the vendors the shards wrote;
3. the global watermark is the minimum over the shards that can still add
   (rules/watermarks.py); windows ending at or before it are final;
4. per vendor, queries the items of the newly final windows and sets ``final`` and
   ``finalAt`` on each, on condition that the item exists and is not final yet;
5. records how far windows are final, so that the next pass starts there.

Every step is idempotent and conditional: two finalizers at once (a deploy) only repeat
each other's updates, and a pass that dies half-way is finished by the next one.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

from botocore.exceptions import ClientError

from consumer_app import logs
from consumer_app.dynamo.clients import control_client
from consumer_app.dynamo.errors import error_code
from consumer_app.dynamo.schema import TableProblem, check_table
from consumer_app.dynamo.watermarks import WatermarkStore, now_iso
from consumer_app.metrics import WATERMARK_LAG, WINDOWS_FINALIZED, emf_lines, stream_context
from consumer_app.rules.sub_items import SEPARATOR, window_of
from consumer_app.rules.watermarks import PublishedWatermark, final_through, global_watermark, waiting_for
from consumer_app.rules.windows import iso_utc
from consumer_app.settings import Settings, from_env_or_exit
from consumer_app.tables import AGGREGATES, FINAL, FINAL_AT, VENDOR_ID, WATERMARKS, WINDOW_END, WINDOW_START

log = logging.getLogger("consumer_app.finality")


@dataclass(frozen=True)
class Progress:
    """What the shards' watermarks say now."""

    shards: list[str]
    watermarks: dict[str, PublishedWatermark]
    vendors: set[int]
    global_ms: int | None  # None: some shard that can still add has no watermark yet
    through_ms: int | None  # how far windows were finalized by an earlier pass

    @property
    def waiting_for(self) -> list[str]:
        """The shards without a watermark, which hold every window back."""
        return waiting_for(self.shards, self.watermarks)


@dataclass(frozen=True)
class PassResult:
    progress: Progress
    through_ms: int | None  # how far windows are final after this pass
    finalized: int  # (vendor, window) aggregates finalized by this pass


def list_shard_ids(kinesis: Any, stream: str) -> list[str]:
    """Every shard the stream lists: open, closed (within retention) and children."""
    pages = kinesis.get_paginator("list_shards").paginate(StreamName=stream)
    return [s["ShardId"] for page in pages for s in page.get("Shards", [])]


def read_progress(kinesis: Any, stream: str, store: WatermarkStore) -> Progress:
    """What the shards' watermarks say now: where a finalizer's pass starts, and what
    ``python -m consumer_app windows`` reports (without a whole :class:`Finalizer`)."""
    # shards first: a child listed here but not yet in the scan holds finality back,
    # the safe way round
    shards = list_shard_ids(kinesis, stream)
    published, vendors, through = store.scan()
    return Progress(shards, published, vendors, global_watermark(shards, published), through)


def _one_shot_connection(request: Any, **_: Any) -> None:
    request.headers["Connection"] = "close"


class Finalizer:
    def __init__(self, settings: Settings, kinesis: Any, dynamodb: Any) -> None:
        self.settings = settings
        self.kinesis = kinesis
        self.dynamodb = dynamodb
        self.store = WatermarkStore(dynamodb, settings.watermarks_table)
        # One connection per ListShards call.  A client that polls every few seconds on a
        # keep-alive connection is never idle long enough for a stopping server to drop it:
        # a persistent kinesis-local then never finishes its shutdown (and is killed before
        # it writes its snapshot: seen in the emulator_restart scenario).  One call per
        # pass costs nothing worth keeping a connection for.
        kinesis.meta.events.register("before-send.kinesis", _one_shot_connection)

    def shard_ids(self) -> list[str]:
        """Every shard of this finalizer's stream (:func:`list_shard_ids`)."""
        return list_shard_ids(self.kinesis, self.settings.stream_name)

    def progress(self) -> Progress:
        """What the shards' watermarks say now (:func:`read_progress`)."""
        return read_progress(self.kinesis, self.settings.stream_name, self.store)

    def run_pass(self) -> PassResult:
        p = self.progress()
        through = final_through(p.global_ms, self.settings.window_seconds)
        if through is None or (p.through_ms is not None and through <= p.through_ms):
            return PassResult(p, p.through_ms, 0)
        assert p.global_ms is not None
        finalized = sum(self._finalize_vendor(v, p.through_ms, through) for v in sorted(p.vendors))
        self.store.record_finality(through, p.global_ms)
        return PassResult(p, through, finalized)

    def _finalize_vendor(self, vendor: int, since_ms: int | None, through_ms: int) -> int:
        """Finalize this vendor's items of the windows ending in (since, through]; how many
        (vendor, window) aggregates were finalized."""
        width = self.settings.window_seconds * 1000
        low = iso_utc(since_ms) if since_ms is not None else "0"
        high = iso_utc(through_ms - width) + SEPARATOR + "~"  # "~" sorts after any sub-item
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.settings.aggregates_table,
            KeyConditionExpression=f"{VENDOR_ID} = :v AND {WINDOW_START} BETWEEN :lo AND :hi",
            FilterExpression="attribute_not_exists(#fin)",
            ProjectionExpression=WINDOW_START,
            ExpressionAttributeNames={"#fin": FINAL},
            ExpressionAttributeValues={":v": {"N": str(vendor)}, ":lo": {"S": low}, ":hi": {"S": high}},
            ConsistentRead=True)
        windows: set[str] = set()
        for page in pages:
            for item in page.get("Items", []):
                key = item[WINDOW_START]["S"]
                if self._finalize_item(vendor, key):
                    windows.add(window_of(key))
        return len(windows)

    def _finalize_item(self, vendor: int, sort_key: str) -> bool:
        try:
            self.dynamodb.update_item(
                TableName=self.settings.aggregates_table,
                Key={VENDOR_ID: {"N": str(vendor)}, WINDOW_START: {"S": sort_key}},
                UpdateExpression="SET #fin = :true, #at = :now",
                ConditionExpression=f"attribute_exists({WINDOW_END}) AND attribute_not_exists(#fin)",
                ExpressionAttributeNames={"#fin": FINAL, "#at": FINAL_AT},
                ExpressionAttributeValues={":true": {"BOOL": True}, ":now": {"S": now_iso()}})
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":  # finalized by another pass
                return False
            raise
        return True


def _report(result: PassResult, settings: Settings, out: IO[str], waiting: list[str]) -> list[str]:
    """A log line when something changed, and the pass's metrics; returns who holds finality."""
    p = result.progress
    now_ms = int(time.time() * 1000)
    if result.finalized or p.waiting_for != waiting:
        logs.event(log, logging.INFO,
                   f"windows final through {iso_utc(result.through_ms) if result.through_ms else '-'}"
                   + (f"; waiting for a first watermark from {', '.join(p.waiting_for)}"
                      if p.waiting_for else ""),
                   event="finality", marked=result.finalized, shards=len(p.shards),
                   global_watermark=iso_utc(p.global_ms) if p.global_ms is not None else None,
                   waiting_for=p.waiting_for)
    if settings.metrics == "emf":
        ctx = stream_context(settings.application_name, settings.stream_name)
        ctx.put_metric(WINDOWS_FINALIZED, result.finalized, "Count")
        if p.global_ms is not None:
            ctx.put_metric(WATERMARK_LAG, round((now_ms - p.global_ms) / 1000, 3), "Seconds")
        for line in emf_lines(ctx):
            out.write(line + "\n")
        out.flush()
    return p.waiting_for


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m consumer_app finalize",
                                 description="mark aggregate items final once every shard's "
                                 "watermark has passed their window (docs/windows.md)")
    ap.add_argument("--once", action="store_true", help="one pass, then exit")
    args = ap.parse_args(argv)
    settings = from_env_or_exit("finalize")
    logs.configure(settings.log_level, role="finalizer")
    # docker stop / ECS: end at once with 0; a pass cut short is finished by the next one
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    dynamodb = control_client(settings, "dynamodb")
    try:
        check_table(dynamodb, settings.aggregates_table, AGGREGATES)
        check_table(dynamodb, settings.watermarks_table, WATERMARKS)
    except TableProblem as exc:
        sys.stderr.write(f"finalize: cannot start: {exc}\n")
        return 2
    finalizer = Finalizer(settings, control_client(settings, "kinesis"), dynamodb)
    waiting: list[str] = []
    while True:
        started = time.monotonic()
        try:
            waiting = _report(finalizer.run_pass(), settings, sys.stderr, waiting)
        except Exception as exc:  # the next pass tries again; nothing depends on this one
            logs.event(log, logging.ERROR, f"finality pass failed: {type(exc).__name__}: {exc}",
                       event="finality_error")
            if args.once:
                return 1
        if args.once:
            return 0
        time.sleep(max(0.0, settings.finalize_interval_seconds - (time.monotonic() - started)))
