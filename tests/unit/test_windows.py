"""Tumbling windows aligned to the epoch, by arrival time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer_app.rules.windows import (
    MAX_WINDOW_SECONDS,
    iso_utc,
    iso_utc_micros,
    iso_utc_millis,
    parse_iso_utc,
    parse_iso_utc_fraction,
    window_floor,
    window_start_ms,
)

# 2025-11-27T08:00:30Z: day 20419 since the epoch (20419 * 86400 = 1_764_201_600) + 8 h 0 min 30 s.
T0_MS = 1_764_230_430_000


@pytest.mark.parametrize(("arrival", "start"), [
    (1_764_230_431_999, 1_764_230_430_000),
    (1_764_230_430_000, 1_764_230_430_000),  # exactly on a boundary: the new window
    (1_764_230_429_999, 1_764_230_400_000),  # one ms before: the previous window
    (1_764_230_459_999, 1_764_230_430_000),  # last ms of the window
    (1_764_230_460_000, 1_764_230_460_000),  # next boundary
    (0, 0),
    (29_999, 0),
    (30_000, 30_000),
])
def test_window_start_30s(arrival, start):
    assert window_start_ms(arrival, 30) == start


def test_other_widths():
    # 60 s windows start on whole minutes: 08:00:00
    assert window_start_ms(1_764_230_431_999, 60) == 1_764_230_400_000
    # 1 s windows drop the milliseconds
    assert window_start_ms(1_764_230_431_999, 1) == 1_764_230_431_000
    # a day: midnight UTC of 2025-11-27
    assert window_start_ms(1_764_230_431_999, MAX_WINDOW_SECONDS) == 1_764_201_600_000
    # 7 s windows are aligned to the epoch, not to the minute: 1_764_230_431_999 // 7000 = 252_032_918
    assert window_start_ms(1_764_230_431_999, 7) == 252_032_918 * 7000 == 1_764_230_426_000


@pytest.mark.parametrize("seconds", [0, -30, MAX_WINDOW_SECONDS + 1, 10**9])
def test_invalid_window_seconds(seconds):
    with pytest.raises(ValueError, match="window_seconds"):
        window_start_ms(T0_MS, seconds)


def test_max_window_seconds_is_a_day():
    assert MAX_WINDOW_SECONDS == 86_400


@settings(max_examples=200, deadline=None)
@given(arrival=st.integers(0, 2**45), seconds=st.integers(1, MAX_WINDOW_SECONDS))
def test_window_contains_arrival_and_is_aligned(arrival, seconds):
    start = window_start_ms(arrival, seconds)
    width = seconds * 1000
    assert start % width == 0
    assert start <= arrival < start + width


@given(epoch=st.integers(0, 2**45), seconds=st.integers(1, MAX_WINDOW_SECONDS))
def test_the_window_floor_is_the_window_start(epoch, seconds):
    """One floor for every caller: the validated window start is the unchecked floor."""
    start = window_floor(epoch, seconds * 1000)
    assert start == window_start_ms(epoch, seconds)
    assert window_floor(start, seconds * 1000) == start  # a window start is its own floor


def test_iso_utc_format():
    assert iso_utc(T0_MS) == "2025-11-27T08:00:30Z"
    assert iso_utc(T0_MS + 999) == "2025-11-27T08:00:30Z"  # seconds precision
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    assert iso_utc(1_767_225_599_000) == "2025-12-31T23:59:59Z"
    assert iso_utc(951_782_400_000) == "2000-02-29T00:00:00Z"


def test_parse_iso_utc():
    assert parse_iso_utc("2025-11-27T08:00:30Z") == T0_MS
    assert parse_iso_utc("1970-01-01T00:00:00Z") == 0
    assert parse_iso_utc("2000-02-29T00:00:00Z") == 951_782_400_000


@pytest.mark.parametrize("text", ["2025-11-27T08:00:30", "2025-11-27T08:00:30+00:00", "2025-11-27 08:00:30Z",
                                  "2025-11-27T08:00:30.000Z", "not a date", ""])
def test_parse_iso_utc_rejects_other_formats(text):
    with pytest.raises(ValueError):
        parse_iso_utc(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 253_402_300_799_999))  # up to 9999-12-31T23:59:59.999Z
def test_parse_is_inverse_of_iso_utc(ms):
    text = iso_utc(ms)
    assert len(text) == 20 and text[10] == "T" and text.endswith("Z")
    assert parse_iso_utc(text) == ms - ms % 1000


def test_fractional_formats():
    assert iso_utc_millis(T0_MS + 7) == "2025-11-27T08:00:30.007Z"
    assert iso_utc_millis(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc_micros(T0_MS * 1000 + 123_456) == "2025-11-27T08:00:30.123456Z"
    assert iso_utc_micros(T0_MS * 1000 + 999_999) == "2025-11-27T08:00:30.999999Z"
    assert parse_iso_utc_fraction("2025-11-27T08:00:30.007Z") == (T0_MS + 7) / 1000
    assert parse_iso_utc_fraction("2025-11-27T08:00:30.123456Z") == T0_MS / 1000 + 0.123456


@settings(max_examples=500, deadline=None)
@given(ms=st.integers(0, 4_102_444_800_000))  # to 2100
def test_the_fractional_formats_write_what_each_writer_wrote_before(ms):
    """Byte for byte what the rejects writer, the log formatter and the item stamps wrote
    with their own strftime calls before they shared these functions."""
    assert iso_utc_millis(ms) == datetime.fromtimestamp(ms / 1000, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"  # a reject's arrivedAt
    created, msecs = ms / 1000, ms % 1000  # a log record's created and msecs
    assert iso_utc_millis(int(created) * 1000 + msecs) == time.strftime(
        "%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(msecs):03d}Z"
    moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000 + ms % 7)
    assert iso_utc_micros((ms // 1000) * 1_000_000 + moment.microsecond) == moment.strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")  # updatedAt, finalAt
