"""Reconciliation of the producer's summary with what the tables hold."""

from __future__ import annotations

from typing import Any

from devkit.reconcile import Observed, reconcile

SUMMARY: dict[str, Any] = {
    "sent": 10,
    "clean": 7,
    "unclean": {"total": 3, "byReason": {"not_json": 2, "bad_type": 1}},
    "vendors": {"1": {"passenger": 9, "trips": 4}, "2": {"passenger": 5, "trips": 3}},
}


def agg(vendor: int, window: str, passenger: int, trips: int) -> dict[str, Any]:
    return {"vendorId": {"N": str(vendor)}, "windowStart": {"S": window},
            "passenger": {"N": str(passenger)}, "trips": {"N": str(trips)}}


def rej(reason: str, seq: str) -> dict[str, Any]:
    return {"shardId": {"S": "shardId-000"}, "sequence": {"S": seq}, "reason": {"S": reason}}


def aggregates() -> list[dict[str, Any]]:
    return [agg(1, "2026-01-01T08:00:00Z", 6, 3), agg(1, "2026-01-01T08:00:30Z", 3, 1),
            agg(2, "2026-01-01T08:00:00Z", 5, 3)]


def rejects() -> list[dict[str, Any]]:
    return [rej("not_json", "1:0"), rej("bad_type", "2:0"), rej("not_json", "3:0")]


def test_observed_from_items():
    obs = Observed.from_items([*aggregates(), {"vendorId": {"N": "3"}}], rejects())
    assert dict(obs.trips) == {1: 4, 2: 3, 3: 0}
    assert dict(obs.passenger) == {1: 9, 2: 5, 3: 0}
    assert dict(obs.rejects) == {"not_json": 2, "bad_type": 1}


def test_exact_match():
    r = reconcile(SUMMARY, Observed.from_items(aggregates(), rejects()))
    assert r.ok and r.lines == []
    assert (r.produced, r.aggregated, r.rejected, r.difference) == (10, 7, 3, 0)


def test_missing_trip():
    items = aggregates()
    items[1] = agg(1, "2026-01-01T08:00:30Z", 0, 0)  # the one-trip window never arrived
    r = reconcile(SUMMARY, Observed.from_items(items, rejects()))
    assert not r.ok
    assert r.difference == 1
    assert r.lines == [
        "vendor 1: trips 3 (expected 4), passenger 6 (expected 9)",
        "produced 10 != aggregated 6 + rejected 3 (difference 1)",
    ]


def test_extra_reject():
    r = reconcile(SUMMARY, Observed.from_items(aggregates(), [*rejects(), rej("not_utf8", "4:0")]))
    assert not r.ok
    assert r.difference == -1
    assert r.lines == [
        "rejects not_utf8: 1 (expected 0)",
        "produced 10 != aggregated 7 + rejected 4 (difference -1)",
    ]


def test_reject_with_the_wrong_reason():
    wrong = [rej("not_json", "1:0"), rej("bad_value", "2:0"), rej("not_json", "3:0")]
    r = reconcile(SUMMARY, Observed.from_items(aggregates(), wrong))
    assert r.difference == 0
    assert r.lines == ["rejects bad_type: 0 (expected 1)", "rejects bad_value: 1 (expected 0)"]


def test_wrong_passenger_sum():
    items = aggregates()
    items[2] = agg(2, "2026-01-01T08:00:00Z", 6, 3)
    r = reconcile(SUMMARY, Observed.from_items(items, rejects()))
    assert r.difference == 0
    assert r.lines == ["vendor 2: trips 3 (expected 3), passenger 6 (expected 5)"]


def test_unexpected_vendor():
    items = [*aggregates(), agg(7, "2026-01-01T08:00:00Z", 1, 1)]
    r = reconcile(SUMMARY, Observed.from_items(items, rejects()))
    assert r.lines == [
        "vendor 7: trips 1 (expected 0), passenger 1 (expected 0)",
        "produced 10 != aggregated 8 + rejected 3 (difference -1)",
    ]


def test_double_counted_trip():
    items = [*aggregates(), agg(2, "2026-01-01T08:00:30Z", 2, 1)]
    r = reconcile(SUMMARY, Observed.from_items(items, rejects()))
    assert not r.ok
    assert r.lines[0] == "vendor 2: trips 4 (expected 3), passenger 7 (expected 5)"


def test_empty_run():
    summary = {"sent": 0, "unclean": {"byReason": {}}, "vendors": {}}
    r = reconcile(summary, Observed())
    assert r.ok and r.difference == 0
