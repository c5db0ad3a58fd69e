"""``local up|down|status|init|check``: a persistent local stack (state in ``.local/stack.json``),
the resources on any backend, and the reconciliation of a producer's summary against it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devkit.local import emulators, stack


def main(args: argparse.Namespace) -> int:
    if args.action == "up":
        return up(args)
    if args.action == "init":
        return init(args)
    if args.action == "check":
        return check(args)
    if args.action == "down":
        return down()
    return status()


def up(args: argparse.Namespace) -> int:
    if not 1 <= args.shards <= 64:
        sys.stderr.write("local up: --shards must be between 1 and 64\n")
        return 2
    current = stack.load()
    if current is not None and any(current.running().values()):
        s = current
        if (args.kinesis_port, args.dynamodb_port) != (s.kinesis_port, s.dynamodb_port):
            sys.stderr.write(f"local up: already running on ports {s.kinesis_port}/"
                             f"{s.dynamodb_port}; `local down` first to change them\n")
    else:
        s = stack.Stack(kinesis_port=args.kinesis_port, dynamodb_port=args.dynamodb_port,
                        shards=args.shards, log_dir=str(stack.STATE_DIR))
    try:
        s.start(persist=args.persist)
    except emulators.EmulatorError as exc:
        sys.stderr.write(f"local up: {exc}\n")
        stack.save(s)
        return 1
    finally:
        stack.save(s)
    sys.stderr.write(f"local up: kinesis-local on {s.kinesis_url} (pid {s.kinesis_pid}), "
                     f"moto on {s.dynamodb_url} (pid {s.dynamodb_pid}); stream {s.stream} "
                     f"({s.shards} shards), tables {s.aggregates_table}, {s.rejects_table}\n"
                     "local up: load the settings with: eval \"$(python -m devkit local up)\"\n")
    sys.stdout.write(stack.export_lines(s.env()))
    return 0


def down() -> int:
    s = stack.load()
    if s is None:
        sys.stderr.write("local down: nothing was started by `local up`\n")
        return 0
    if s.persist:
        sys.stderr.write("local down: kinesis-local saves its data once its clients have "
                         f"disconnected (up to {emulators.KINESIS_PERSIST_STOP_S:.0f} s)\n")
    s.stop()
    stack.STATE_FILE.unlink(missing_ok=True)
    sys.stderr.write("local down: stopped kinesis-local and moto\n")
    return 0


def status() -> int:
    s = stack.load()
    if s is None:
        print("local stack: not started (python -m devkit local up)")
        return 3
    run = s.running()
    print(f"kinesis-local: {'running' if run['kinesis-local'] else 'stopped'} "
          f"{s.kinesis_url} pid {s.kinesis_pid}")
    print(f"moto (DynamoDB): {'running' if run['moto'] else 'stopped'} "
          f"{s.dynamodb_url} pid {s.dynamodb_pid}")
    print(f"stream {s.stream} ({s.shards} shards); tables {s.aggregates_table}, {s.rejects_table}")
    print(f"logs: {s.log_dir}/")
    return 0 if all(run.values()) else 3


def init(args: argparse.Namespace) -> int:
    """Create the stream and tables on the backend the environment points at (compose)."""
    import time

    import boto3
    from botocore.config import Config

    from consumer_app.settings import from_env_or_exit
    from devkit.local.resources import ensure_all

    s = from_env_or_exit("local init")
    cfg = Config(region_name=s.region, retries={"mode": "standard", "max_attempts": 5})
    kinesis = boto3.client("kinesis", endpoint_url=s.kinesis_endpoint, config=cfg)
    dynamodb = boto3.client("dynamodb", endpoint_url=s.dynamodb_endpoint, config=cfg)
    deadline = time.monotonic() + args.wait
    while True:
        try:
            ensure_all(kinesis, dynamodb, s.stream_name, args.shards, s.aggregates_table, s.rejects_table,
                       s.watermarks_table)
            break
        except Exception as exc:  # emulators still starting
            if time.monotonic() > deadline:
                sys.stderr.write(f"local init: backend not ready after {args.wait:.0f}s: {exc}\n")
                return 1
            time.sleep(1)
    sys.stderr.write(f"local init: stream {s.stream_name} ({args.shards} shards), tables "
                     f"{s.aggregates_table}, {s.rejects_table} ready\n")
    return 0


def check(args: argparse.Namespace) -> int:
    """Reconcile producer summaries (JSON, from files or stdin; several runs add up) against
    the tables of the environment's backend, once every shard is checkpointed at its last record.

    Prints the leases per owner and every mismatch; exit 0 when exact.  It is how a stack in
    containers is checked from inside its network (``docker compose run``, docs/docker.md).
    """
    import json

    import boto3
    from botocore.config import Config

    from consumer_app.settings import from_env_or_exit
    from devkit.local import inspect
    from devkit.reconcile import Observed, reconcile
    from producer.summary import Summary

    s = from_env_or_exit("local check")
    total = Summary()
    for source in args.summary or ["-"]:
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text()
            total.absorb(Summary.from_json(json.loads(text)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            sys.stderr.write(f"local check: {source} is not a producer summary: {exc!r}\n")
            return 2
    summary = total.to_json()
    dynamodb = boto3.client("dynamodb", endpoint_url=s.dynamodb_endpoint,
                            config=Config(region_name=s.region, retries={"mode": "standard"}))
    behind = inspect.wait_drained(dynamodb, s.application_name, summary, timeout_s=args.wait)
    obs = Observed.from_items(inspect.scan_all(dynamodb, s.aggregates_table),
                              inspect.scan_all(dynamodb, s.rejects_table))
    result = reconcile(summary, obs)
    owners = inspect.owners(dynamodb, s.application_name)
    print(json.dumps({"exact": result.ok and not behind, "produced": result.produced,
                      "aggregated": result.aggregated, "rejected": result.rejected,
                      "mismatches": result.lines, "behind": behind,
                      "leasesPerOwner": dict(sorted(owners.items()))}, indent=2))
    return 0 if result.ok and not behind else 1
