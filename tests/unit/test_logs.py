"""The JSON log line's time, as the chaos runner and the bench read it back."""

from __future__ import annotations

import json
import logging

from consumer_app.logs import JsonFormatter, event_time


def test_event_time_reads_back_what_the_formatter_wrote() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    record.created, record.msecs = 1_795_000_000.123, 123.0
    doc = json.loads(JsonFormatter().format(record))
    assert doc["ts"] == "2026-11-18T11:06:40.123Z"
    assert abs(event_time(doc) - 1_795_000_000.123) < 1e-6
