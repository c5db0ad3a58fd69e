"""Reconciliation: does the consumer's output account for every record produced? (pure)"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from consumer_app.tables import decode_aggregate


@dataclass
class Observed:
    """What the tables hold: trips and passengers per vendor, rejects per reason."""

    trips: Counter[int] = field(default_factory=Counter)
    passenger: Counter[int] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_items(cls, aggregates: list[dict[str, Any]], rejects: list[dict[str, Any]]) -> Observed:
        obs = cls()
        for agg in map(decode_aggregate, aggregates):
            obs.trips[agg.vendor_id] += agg.trips
            obs.passenger[agg.vendor_id] += agg.passenger
        for it in rejects:
            obs.rejects[it["reason"]["S"]] += 1
        return obs


@dataclass
class Reconciliation:
    produced: int
    aggregated: int
    rejected: int
    lines: list[str]

    @property
    def ok(self) -> bool:
        return not self.lines

    @property
    def difference(self) -> int:
        return self.produced - self.aggregated - self.rejected


def reconcile(summary: dict[str, Any], obs: Observed) -> Reconciliation:
    """Compare the producer's summary with the tables; every mismatch becomes a line."""
    lines: list[str] = []
    produced = int(summary["sent"])
    aggregated = sum(obs.trips.values())
    rejected = sum(obs.rejects.values())
    vendors = {int(v): t for v, t in summary["vendors"].items()}
    for v in sorted(set(vendors) | set(obs.trips)):
        want = vendors.get(v, {"trips": 0, "passenger": 0})
        if want["trips"] != obs.trips[v] or want["passenger"] != obs.passenger[v]:
            lines.append(f"vendor {v}: trips {obs.trips[v]} (expected {want['trips']}), "
                         f"passenger {obs.passenger[v]} (expected {want['passenger']})")
    expected_rejects = Counter(summary["unclean"]["byReason"])
    for reason in sorted(set(expected_rejects) | set(obs.rejects)):
        if expected_rejects[reason] != obs.rejects[reason]:
            lines.append(f"rejects {reason}: {obs.rejects[reason]} (expected {expected_rejects[reason]})")
    if produced != aggregated + rejected:
        lines.append(f"produced {produced} != aggregated {aggregated} + rejected {rejected} "
                     f"(difference {produced - aggregated - rejected})")
    return Reconciliation(produced, aggregated, rejected, lines)
