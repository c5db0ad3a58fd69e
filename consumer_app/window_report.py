"""``python -m consumer_app windows``: the aggregates with their state, and the global watermark.

A (vendor, window) aggregate is one item, or several sub-items (``AGGREGATE_SUB_ITEMS``,
rules/sub_items.py) added up here; it is **final** when every one of its items carries
``final`` (docs/windows.md).  Reads only; the same rows feed the demo's live table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from consumer_app.dynamo.clients import control_client
from consumer_app.rules.windows import iso_utc, parse_iso_utc, parse_iso_utc_fraction
from consumer_app.settings import from_env_or_exit
from consumer_app.tables import VENDOR_ID, WINDOW_START, decode_aggregate


@dataclass(frozen=True)
class WindowRow:
    vendor_id: int
    window_start: str
    window_end: str
    trips: int
    passenger: int
    final: bool  # every item of the aggregate is finalized
    final_at: str | None  # when the last of its items was finalized
    updated_at: str | None  # the last contribution to any of its items


def rows(items: Iterable[dict[str, Any]]) -> list[WindowRow]:
    """Aggregate items (DynamoDB JSON) -> one row per (vendor, window), sub-items added up."""
    merged: dict[tuple[int, str], dict[str, Any]] = {}
    for it in map(decode_aggregate, items):
        row = merged.setdefault((it.vendor_id, it.window_start),
                                {"trips": 0, "passenger": 0, "final": True, "final_at": None,
                                 "updated_at": None, "window_end": it.window_end or ""})
        row["trips"] += it.trips
        row["passenger"] += it.passenger
        row["final"] = row["final"] and it.final
        row["final_at"] = max(filter(None, (row["final_at"], it.final_at)), default=None)
        row["updated_at"] = max(filter(None, (row["updated_at"], it.updated_at)), default=None)
    return [WindowRow(vendor, start, r["window_end"], r["trips"], r["passenger"], r["final"],
                      r["final_at"] if r["final"] else None, r["updated_at"])
            for (vendor, start), r in sorted(merged.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


def wait_final(dynamodb: Any, table: str, but_latest: bool, timeout_s: float) -> list[WindowRow]:
    """The rows once every window (but the latest, if asked) is final, or at the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = load(dynamodb, table)
        latest = max((r.window_start for r in found), default="")
        if all(r.final or (but_latest and r.window_start == latest) for r in found) \
                or time.monotonic() > deadline:
            return found
        time.sleep(1)


def finality_lag_s(row: WindowRow) -> float:
    """Seconds from a final window's end to when it was (last) finalized."""
    assert row.final_at is not None
    finalized_s = parse_iso_utc_fraction(row.final_at)
    return (finalized_s * 1000 - parse_iso_utc(row.window_end)) / 1000


def load(dynamodb: Any, table: str, vendor: int | None = None, since: str | None = None) -> list[WindowRow]:
    """The rows of one vendor (a Query) or of all (a Scan), from windows starting at ``since``."""
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    if vendor is not None:
        kwargs["KeyConditionExpression"] = (f"{VENDOR_ID} = :v"
                                            + (f" AND {WINDOW_START} >= :s" if since else ""))
        kwargs["ExpressionAttributeValues"] = {":v": {"N": str(vendor)}}
        op = "query"
    else:
        op = "scan"
        if since:
            kwargs["FilterExpression"] = f"{WINDOW_START} >= :s"
            kwargs["ExpressionAttributeValues"] = {}
    if since:
        kwargs["ExpressionAttributeValues"][":s"] = {"S": since}
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator(op).paginate(**kwargs):
        items += page["Items"]
    return rows(items)


def parse_time(text: str) -> str:
    """``--since``: an ISO-8601 UTC time (``2026-12-05T08:00:00Z``; seconds optional)."""
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M",
                "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return iso_utc(int(moment.timestamp() * 1000))
    raise argparse.ArgumentTypeError(f"not an ISO-8601 UTC time such as 2026-12-05T08:00:00Z: {text!r}")


def _age(iso: str | None, now_ms: int) -> str:
    return "-" if iso is None else f"{(now_ms - parse_iso_utc(iso)) / 1000:.1f} s ago"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m consumer_app windows",
                                 description="the aggregates with their state (final or open) and "
                                 "the global watermark (docs/windows.md)")
    ap.add_argument("--vendor", type=int, help="one vendorId only")
    ap.add_argument("--since", type=parse_time, help="windows starting at or after this UTC time")
    ap.add_argument("--final-only", action="store_true", help="only windows marked final")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)
    settings = from_env_or_exit("windows")
    from consumer_app.dynamo.watermarks import WatermarkStore
    from consumer_app.finality import read_progress

    dynamodb = control_client(settings, "dynamodb")
    try:
        found = load(dynamodb, settings.aggregates_table, args.vendor, args.since)
        progress = read_progress(control_client(settings, "kinesis"), settings.stream_name,
                                 WatermarkStore(dynamodb, settings.watermarks_table))
    except Exception as exc:
        sys.stderr.write(f"windows: cannot read the tables or the stream: {type(exc).__name__}: {exc}\n")
        return 1
    if args.final_only:
        found = [r for r in found if r.final]
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    watermark = iso_utc(progress.global_ms) if progress.global_ms is not None else None
    through = iso_utc(progress.through_ms) if progress.through_ms is not None else None
    if args.json:
        json.dump({"globalWatermark": watermark, "finalThrough": through,
                   "waitingFor": progress.waiting_for, "windows": [asdict(r) for r in found]},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{'vendor':>6}  {'window start (UTC)':20}  {'trips':>8}  {'passenger':>9}  {'state':5}  finalAt")
    for r in found:
        print(f"{r.vendor_id:>6}  {r.window_start:20}  {r.trips:>8}  {r.passenger:>9}  "
              f"{'final' if r.final else 'open':5}  {r.final_at or '-'}")
    print(f"{len(found)} windows; global watermark {watermark or '-'} ({_age(watermark, now_ms)}); "
          f"windows final through {through or '-'}"
          + (f"; waiting for a first watermark from {', '.join(progress.waiting_for)}"
             if progress.waiting_for else ""))
    return 0
