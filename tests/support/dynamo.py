"""A shard's clean records and rejects for the writers, and the aggregates table's totals:
what they should be (computed from the records) and what a table holds."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from consumer_app.dynamo.rejects import Reject
from consumer_app.rules.aggregation import CleanRecord, Position
from consumer_app.rules.validation import Trip
from consumer_app.rules.windows import iso_utc, window_start_ms
from devkit.local.inspect import scan_all
from tests.support.trips import BASE_MS


def shard_records(n: int, seed: int, first_seq: int = 49_000_000_000_000_000_000_000,
                  spacing_ms: int = 37) -> list[CleanRecord]:
    rng = random.Random(seed)
    seq = first_seq
    out = []
    for i in range(n):
        seq += rng.randint(1, 10**6)
        trip = Trip(rng.randint(1, 3), rng.randint(0, 9))
        out.append(CleanRecord(Position(seq, 0), BASE_MS + i * spacing_ms, trip))
    return out


def expected_totals(records: list[CleanRecord], window_s: int = 30) -> dict[tuple[int, str], tuple[int, int]]:
    tot: Counter[tuple[int, str]] = Counter()
    trips: Counter[tuple[int, str]] = Counter()
    for r in records:
        key = (r.trip.vendor_id, iso_utc(window_start_ms(r.arrival_ms, window_s)))
        tot[key] += r.trip.passenger_count
        trips[key] += 1
    return {k: (tot[k], trips[k]) for k in trips}


def table_totals(ddb: Any, table: str) -> dict[tuple[int, str], tuple[int, int]]:
    return {(int(i["vendorId"]["N"]), i["windowStart"]["S"]): (int(i["passenger"]["N"]), int(i["trips"]["N"]))
            for i in scan_all(ddb, table)}


def make_rejects(n: int, payload_size: int = 40) -> list[Reject]:
    """``n`` rejects at sequence numbers 10**50 + i, arrived at BASE_MS + i."""
    return [Reject(Position(10**50 + i, i % 3), BASE_MS + i, f"pk{i}", "not_json", "detail",
                   b"x" * payload_size) for i in range(n)]
