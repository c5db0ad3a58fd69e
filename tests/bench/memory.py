"""Resident memory of one worker holding 1, 4 and 8 shards: the JVM and each record
processor (``make bench``, or alone: ``python -m tests.bench.memory``).

Each count gets its own stack; one worker takes every shard, drains a small backlog (so
that every processor has parsed and written a few batches), and its process tree is read
from ``/proc`` while it still holds the leases.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, worker_env
from producer.produce import Plan, produce
from producer.summary import Summary
from tests.bench import procfs

SHARD_COUNTS = (1, 4, 8)


def one(shards: int, out_dir: Path, records: int = 2000) -> dict[str, Any]:
    with stack.running(out_dir / f"logs-memory-{shards}", shards=shards) as st:
        summary = Summary()
        produce(Plan(st.stream, count=records, unclean_ratio=0.05, seed=9), summary, st.client("kinesis"))
        app = f"memory-{shards}-{int(time.time())}"
        w = Worker(f"{app}-w1", worker_env(st.env(), app), out_dir / f"logs-memory-{shards}", restart=False)
        ddb = st.client("dynamodb")
        with Supervisor([w]) as sup:
            left = inspect.wait_drained(ddb, app, summary.to_json(), timeout_s=180, poll_s=0.5,
                                        check=sup.check)
            time.sleep(2)  # a few idle polls after the drain: the steady state
            assert w.proc is not None
            jvm = w.proc.pid
            kids = [p for p in procfs.tree(jvm) if p != jvm and "consumer_app.processor" in procfs.cmdline(p)]
            jvm_rss = procfs.rss_mb(jvm) or 0.0
            kid_rss = [procfs.rss_mb(p) or 0.0 for p in kids]
            sup.stop_gracefully(30)
    return {"shards": shards, "drained": not left, "jvm_rss_mb": round(jvm_rss, 1), "processors": len(kids),
            "processor_rss_mb": [round(x, 1) for x in sorted(kid_rss)],
            "total_rss_mb": round(jvm_rss + sum(kid_rss), 1)}


def run(out_dir: Path, counts: tuple[int, ...] = SHARD_COUNTS) -> dict[str, Any]:
    return {"runs": [one(n, out_dir) for n in counts]}


def rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for x in r["runs"]:
        each = x["processor_rss_mb"]
        per = f"{min(each)}-{max(each)} MB each" if each else "none"
        out.append((f"resident memory, one worker holding {x['shards']} shard(s): JVM / record processors",
                    f"{x['jvm_rss_mb']} MB / {x['processors']} x ({per}); total {x['total_rss_mb']} MB", ""))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.memory")
    p.add_argument("--out", default="bench-out")
    args = p.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    r = run(out_dir)
    (out_dir / "memory.json").write_text(json.dumps(r, indent=2))
    for name, value, target in rows(r):
        print(f"{name:<90} {value:<60} {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
