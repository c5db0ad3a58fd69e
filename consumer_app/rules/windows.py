"""Tumbling windows aligned to the epoch, assigned by arrival time.

Like Lambda tumbling windows, a record belongs to the window of its Kinesis
``approximateArrivalTimestamp``, which never changes on replay: a replayed record
always lands in the same window.
"""

from __future__ import annotations

from datetime import UTC, datetime

MAX_WINDOW_SECONDS = 86_400


def window_floor(epoch_ms: int, width_ms: int) -> int:
    """Start (epoch ms) of the ``width_ms`` window holding ``epoch_ms``: the one place the
    floor is computed (a record's window, the end of the last final window).

    Unchecked, because the aggregation calls it once per record: callers validate the
    width once (:func:`window_start_ms`).
    """
    return epoch_ms - epoch_ms % width_ms


def window_start_ms(arrival_ms: int, window_seconds: int) -> int:
    """Start (epoch ms) of the window holding ``arrival_ms``."""
    if not 1 <= window_seconds <= MAX_WINDOW_SECONDS:
        raise ValueError(f"window_seconds must be 1..{MAX_WINDOW_SECONDS}, got {window_seconds}")
    return window_floor(arrival_ms, window_seconds * 1000)


def _utc_seconds(epoch_s: int) -> str:
    """``2026-11-27T08:00:30``: the part every format below shares."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_utc(epoch_ms: int) -> str:
    """``2026-11-27T08:00:30Z`` (seconds precision: window bounds are whole seconds)."""
    return _utc_seconds(epoch_ms // 1000) + "Z"


def iso_utc_millis(epoch_ms: int) -> str:
    """``2026-11-27T08:00:30.123Z``: a log line's ``ts`` and a reject's ``arrivedAt``
    (arrival times are whole milliseconds)."""
    return f"{_utc_seconds(epoch_ms // 1000)}.{epoch_ms % 1000:03d}Z"


def iso_utc_micros(epoch_us: int) -> str:
    """``2026-11-27T08:00:30.123456Z``: when an item was written (``updatedAt``,
    ``finalAt``), fine enough that later writes sort after earlier ones as text."""
    return f"{_utc_seconds(epoch_us // 1_000_000)}.{epoch_us % 1_000_000:06d}Z"


def parse_iso_utc(text: str) -> int:
    """Inverse of :func:`iso_utc`, in epoch ms."""
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()) * 1000


def parse_iso_utc_fraction(text: str) -> float:
    """Inverse of :func:`iso_utc_millis` and :func:`iso_utc_micros`, in epoch seconds."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
