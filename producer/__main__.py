"""``python -m producer``: send trip records to Kinesis and print a JSON summary on stdout."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import boto3
from botocore.config import Config

from producer.sender import MAX_BATCH, Sender, SendFailed
from producer.summary import Summary
from producer.trips import Generator


def _positive(kind: type) -> object:
    def parse(text: str) -> object:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m producer", description=__doc__)
    p.add_argument("--stream", default=os.environ.get("STREAM_NAME", "input_stream"),
                   help="stream name (default: $STREAM_NAME or input_stream)")
    limit = p.add_argument_group("how much (at least one; the first reached stops)")
    limit.add_argument("--count", type=_positive(int), help="number of records")
    limit.add_argument("--duration", type=_positive(float), help="seconds to run")
    p.add_argument("--rate", type=_positive(float), default=None,
                   help="records per second (default: as fast as the stream takes them)")
    p.add_argument("--unclean-ratio", type=_ratio, default=0.0,
                   help="share of unclean records, cycling through every kind (default 0)")
    p.add_argument("--seed", type=int, default=None, help="seed: the same records every run")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    args = p.parse_args(argv)
    if args.count is None and args.duration is None:
        p.error("give --count or --duration (or both)")
    return args


def run(args: argparse.Namespace, summary: Summary, client: object | None = None) -> None:
    """Send until --count or --duration; ``summary`` holds what was sent, even on failure."""
    client = client or boto3.client("kinesis", config=Config(
        retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=30))
    sender = Sender(client, args.stream, summary)
    gen = Generator(args.seed, args.unclean_ratio)
    show = not args.quiet and sys.stderr.isatty()
    start = time.monotonic()
    made = 0
    chunk = MAX_BATCH if args.rate is None else max(1, min(MAX_BATCH, int(args.rate / 5)))
    while True:
        elapsed = time.monotonic() - start
        if args.duration is not None and elapsed >= args.duration:
            break
        if args.count is not None and made >= args.count:
            break
        n = chunk if args.count is None else min(chunk, args.count - made)
        if args.rate is not None:
            wait = (made + n) / args.rate - elapsed
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = Summary()
    status, error = 0, None
    try:
        run(args, summary)
    except SendFailed as exc:
        status, error = 1, str(exc)
    except Exception as exc:  # no credentials, no region, stream missing...
        status, error = 1, f"{type(exc).__name__}: {exc}"
    if error:
        sys.stderr.write(f"producer: {error}\n")
    doc = summary.to_json()
    if error:
        doc["error"] = error  # the summary still says exactly what was sent
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
