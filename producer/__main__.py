"""``python -m producer``: send trip records to Kinesis and print a JSON summary on stdout."""

from __future__ import annotations

import argparse
import json
import os
import sys

from consumer_app.settings import DEFAULT_STREAM
from producer.produce import Plan, produce
from producer.sender import SendFailed
from producer.summary import Summary


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


def parse_args(argv: list[str] | None) -> Plan:
    p = argparse.ArgumentParser(prog="python -m producer", description=__doc__)
    p.add_argument("--stream", default=os.environ.get("STREAM_NAME", DEFAULT_STREAM),
                   help=f"stream name (default: $STREAM_NAME or {DEFAULT_STREAM})")
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
    return Plan(args.stream, args.count, args.duration, args.rate, args.unclean_ratio, args.seed,
                progress=not args.quiet)


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    summary = Summary()
    status, error = 0, None
    try:
        produce(plan, summary)
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
