"""The producer as a library: a plan (what to send) and ``produce`` (send it), for the
command line (``python -m producer``) and the development tools (demo, chaos, tests)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from consumer_app.settings import DEFAULT_STREAM
from producer.sender import MAX_BATCH, Sender
from producer.summary import Summary
from producer.trips import Generator


@dataclass(frozen=True)
class Plan:
    """How much (``count`` and/or ``duration``: the first reached stops), how fast (``rate``
    records/s, None: as fast as the stream takes them), how many unclean, which records."""

    stream: str = DEFAULT_STREAM
    count: int | None = None
    duration: float | None = None
    rate: float | None = None
    unclean_ratio: float = 0.0
    seed: int | None = None
    progress: bool = False  # a progress line on stderr when it is a terminal

    def __post_init__(self) -> None:
        if self.count is None and self.duration is None:
            raise ValueError("give a count or a duration (or both)")
        for name in ("count", "duration", "rate"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if not 0.0 <= self.unclean_ratio <= 1.0:
            raise ValueError(f"unclean_ratio must be between 0 and 1, got {self.unclean_ratio}")


def kinesis_client() -> Any:
    """A Kinesis client from the environment; the sender does its own retries."""
    return boto3.client("kinesis", config=Config(
        retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=30))


def produce(plan: Plan, summary: Summary, client: Any | None = None) -> None:
    """Send until the plan's count or duration; ``summary`` holds what was sent, even on failure."""
    sender = Sender(client or kinesis_client(), plan.stream, summary)
    gen = Generator(plan.seed, plan.unclean_ratio)
    show = plan.progress and sys.stderr.isatty()
    start = time.monotonic()
    made = 0
    chunk = MAX_BATCH if plan.rate is None else max(1, min(MAX_BATCH, int(plan.rate / 5)))
    while True:
        elapsed = time.monotonic() - start
        if plan.duration is not None and elapsed >= plan.duration:
            break
        if plan.count is not None and made >= plan.count:
            break
        n = chunk if plan.count is None else min(chunk, plan.count - made)
        if plan.rate is not None:
            wait = (made + n) / plan.rate - elapsed
            if wait > 0:
                time.sleep(wait)
        sender.send([gen.next() for _ in range(n)])
        made += n
        if show:
            rate = summary.sent / max(time.monotonic() - start, 1e-6)
            sys.stderr.write(f"\rsent {summary.sent:,} records ({rate:,.0f}/s), "
                             f"{sum(summary.unclean.values()):,} unclean   ")
    if show:
        sys.stderr.write("\n")
