"""Structured logging: one JSON object per line, on stderr only.

stdout of a record processor is the MultiLangDaemon's protocol channel, so nothing may
ever be printed there.  The daemon relays every stderr line of a child at ERROR level;
``properties/logback.xml`` strips that wrapper so the line shown is this JSON object,
whose own ``level`` field is the one to believe (docs/running.md "Logs").
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from consumer_app.rules.windows import iso_utc_millis, parse_iso_utc_fraction


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            # UTC with milliseconds; created is the epoch time, msecs its milliseconds
            "ts": iso_utc_millis(int(record.created) * 1000 + int(record.msecs)),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


def event_time(doc: dict[str, Any]) -> float:
    """The epoch seconds of a JSON log line's ``ts`` (the chaos runner and bench read logs)."""
    return parse_iso_utc_fraction(doc["ts"])


def configure(level: str = "INFO", **static: Any) -> None:
    """Send all logging to stderr as JSON lines; ``static`` fields go on every line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    if static:
        handler.addFilter(_StaticFields(static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _StaticFields(logging.Filter):
    def __init__(self, static: dict[str, Any]) -> None:
        super().__init__()
        self.static = static

    def filter(self, record: logging.LogRecord) -> bool:
        record.fields = {**self.static, **(getattr(record, "fields", {}) or {})}
        return True


def event(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log ``msg`` with structured ``fields``."""
    logger.log(level, msg, extra={"fields": fields})
