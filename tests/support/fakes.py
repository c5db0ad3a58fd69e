"""The record processor's collaborators, faked: its writers, its watermark store, its clocks."""

from __future__ import annotations

from typing import Any

from consumer_app import processor as proc
from consumer_app.dynamo.aggregates import AggregateOutcome


class Writer:
    """An aggregates or rejects writer: every call's items, in order; the next write reports
    ``refuse`` (contributions to final windows) refused, and nothing after it."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []
        self.claimed_through: int | None = None
        self.refuse: list[Any] = []

    def write(self, items: list[Any]) -> AggregateOutcome:
        self.calls.append(list(items))
        refused, self.refuse = tuple(self.refuse), []
        return AggregateOutcome(written=len(items), refused=refused)


class Watermarks:
    """The watermarks table: what was published, in order, with the table's answer."""

    def __init__(self, log: list[Any] | None = None) -> None:
        self.log = log if log is not None else []

    def publish(self, runner: Any, shard_id: str, watermark_ms: int | None, vendors: set[int],
                position: str, ended: bool = False) -> int | None:
        self.log.append(("watermark", watermark_ms, sorted(vendors), position, ended))
        return watermark_ms


class Clock:
    """A clock that moves only when a test sets ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def with_fakes(p: proc.TripRecordProcessor, log: list[Any] | None = None) -> proc.TripRecordProcessor:
    """``p`` writing to fake writers and publishing to a fake watermarks table (into ``log``)."""
    p.aggregates, p.rejects = Writer(), Writer()  # type: ignore[assignment]
    p.watermarks, p.runner = Watermarks(log), None  # type: ignore[assignment]
    return p
