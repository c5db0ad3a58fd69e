"""Latency and writes per flush interval, at a steady rate (``make bench``, or alone:
``python -m tests.bench.latency``).

For each ``FLUSH_INTERVAL_MILLIS``: 2 workers on a 4-shard stream, a producer that puts
records at a steady rate, and an observer that scans ``kinesisAggs`` every
``--scan-ms``.  A clean record is *in* its aggregate item once that item's mark for the
record's shard (docs/design.md#exactly-once) has reached the record's position; its latency is the time
from the ``PutRecords`` acknowledgement to the first scan that sees this.  The record's
window comes from its ``approximateArrivalTimestamp``, read back from the stream after
the run.  The scan interval bounds the resolution (printed).  Writes per 10,000 clean
records come from the processors' counters.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

from consumer_app import metrics
from consumer_app.rules.aggregation import Position
from consumer_app.rules.sub_items import window_of
from consumer_app.rules.windows import iso_utc
from consumer_app.tables import MARK_PREFIX
from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, worker_env
from producer.summary import Summary
from producer.trips import Generator

DEFAULT_INTERVALS_MS = (0, 1000, 5000)


class Observer(threading.Thread):
    """Scans the aggregates table; remembers when each (item, shard) mark was first seen."""

    def __init__(self, ddb: Any, table: str, every_s: float) -> None:
        super().__init__(name="observer", daemon=True)
        self.ddb, self.table, self.every_s = ddb, table, every_s
        # (vendor, windowStart, shard) -> [(first seen, mark)] in the order seen
        self.seen: dict[tuple[int, str, str], list[tuple[float, Position]]] = {}
        self.scans = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            t = time.time()
            for item in inspect.scan_all(self.ddb, self.table):
                key = (int(item["vendorId"]["N"]), window_of(item["windowStart"]["S"]))
                for attr, value in item.items():
                    if attr.startswith(MARK_PREFIX):
                        marks = self.seen.setdefault((*key, attr[len(MARK_PREFIX):]), [])
                        mark = Position.parse(value["S"])
                        if not marks or marks[-1][1] != mark:
                            marks.append((t, mark))
            self.scans += 1
            self._halt.wait(max(0.0, self.every_s - (time.time() - t)))

    def included_at(self, vendor: int, window: str, shard: str, position: Position) -> float | None:
        """When the item first showed a mark at or above ``position`` (None: never)."""
        for t, mark in self.seen.get((vendor, window, shard), []):
            if mark >= position:
                return t
        return None

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def arrivals(kinesis: Any, stream: str) -> dict[tuple[str, str], int]:
    """(shard, sequence number) -> approximateArrivalTimestamp in ms, read back from the stream."""
    out = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        sid = shard["ShardId"]
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=sid,
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = kinesis.get_records(ShardIterator=it, Limit=10000)
            for rec in r["Records"]:
                out[(sid, rec["SequenceNumber"])] = int(rec["ApproximateArrivalTimestamp"].timestamp() * 1000)
            if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
                break
            it = r.get("NextShardIterator")
    return out


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def steady_run(st: stack.Stack, interval_ms: int, rate: int, seconds: float, log_dir: Path,
               scan_s: float, seed: int, **env_extra: str) -> dict[str, Any]:
    """One run at ``rate`` records/s for ``seconds`` with FLUSH_INTERVAL_MILLIS=interval_ms."""
    app = f"latency-{interval_ms}ms-{int(time.time())}"
    env = worker_env(st.env(), app, FLUSH_INTERVAL_MILLIS=str(interval_ms), STATS_INTERVAL_SECONDS="1",
                     **env_extra)
    workers = [Worker(f"{app}-w{i + 1}", env, log_dir, restart=False) for i in range(2)]
    ddb, kinesis = st.client("dynamodb"), st.client("kinesis")
    gen = Generator(seed=seed, unclean_ratio=0.05)
    summary = Summary()
    sent: list[tuple[float, str, str, int]] = []  # (ack time, shard, sequence, vendor) of clean records
    observer = Observer(ddb, st.aggregates_table, scan_s)
    with Supervisor(workers) as sup:
        # measure from the moment every shard has a running record processor
        deadline = time.monotonic() + 120
        while len({e["shard"] for w in workers for e in w.events()
                   if e.get("event") == "initialize"}) < st.shards:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app}: not every shard has a record processor after 120 s")
            sup.check()
            time.sleep(0.25)
        observer.start()
        tick = 0.1
        per_tick = max(1, round(rate * tick))
        t_start = time.monotonic()
        n_ticks = int(seconds / tick)
        for i in range(n_ticks):
            recs = [gen.next() for _ in range(per_tick)]
            entries = [{"Data": r.data, "PartitionKey": r.partition_key} for r in recs]
            while entries:  # kinesis-local does not throttle at these rates; retry whatever fails
                resp = kinesis.put_records(StreamName=st.stream, Records=entries)
                acked = time.time()
                retry_recs, retry_entries = [], []
                for r, e, res in zip(recs, entries, resp["Records"], strict=True):
                    if "SequenceNumber" in res:
                        summary.add(r, res["ShardId"], res["SequenceNumber"])
                        if r.kind == "clean":
                            sent.append((acked, res["ShardId"], res["SequenceNumber"], r.vendor_id or 0))
                    else:
                        retry_recs.append(r)
                        retry_entries.append(e)
                recs, entries = retry_recs, retry_entries
            sup.check()
            wait = t_start + (i + 1) * tick - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        produced_s = time.monotonic() - t_start
        left = inspect.wait_drained(ddb, app, summary.to_json(), timeout_s=120, poll_s=0.25)
        time.sleep(max(0.5, 2 * scan_s))
        observer.stop()
        sup.stop_gracefully(30)
    arrival = arrivals(kinesis, st.stream)
    latencies, missing = [], 0
    for acked, shard, seq, vendor in sent:
        window_ms = arrival[(shard, seq)] // 30_000 * 30_000
        seen = observer.included_at(vendor, iso_utc(window_ms), shard, Position(int(seq)))
        if seen is None:
            missing += 1
        else:
            latencies.append(max(0.0, seen - acked))
    latencies.sort()
    events = [ev for w in workers for ev in w.events()]
    clean, writes = metrics.total(events, "clean"), metrics.total(events, "aggregate_writes")
    return {
        "flush_interval_ms": interval_ms, "rate": round(summary.sent / produced_s), "records": summary.sent,
        "clean": summary.clean, "not_drained": left, "not_seen": missing, "scans": observer.scans,
        "scan_ms": round(scan_s * 1000), "latency_s": latencies,
        "p50_s": round(percentile(latencies, 50), 2), "p95_s": round(percentile(latencies, 95), 2),
        "p99_s": round(percentile(latencies, 99), 2), "max_s": round(latencies[-1], 2) if latencies else None,
        "aggregate_writes": writes,
        "aggregate_writes_per_10k_clean": round(writes * 10_000 / max(clean, 1), 1),
        "clean_counted_by_processors": clean,
    }


def run(out_dir: Path, intervals: tuple[int, ...] = DEFAULT_INTERVALS_MS, rate: int = 200,
        seconds: float = 40.0, scan_ms: int = 100, **env_extra: str) -> dict[str, Any]:
    results = []
    with stack.running(out_dir / "logs-latency", shards=4) as st:
        for k, interval in enumerate(intervals):
            print(f"   latency at {rate} records/s, FLUSH_INTERVAL_MILLIS={interval} ...", file=sys.stderr)
            results.append(steady_run(st, interval, rate, seconds, out_dir / "logs-latency", scan_ms / 1000,
                                      seed=100 + k, **env_extra))
    return {"rate": rate, "seconds": seconds, "shards": 4, "workers": 2, "runs": results}


def rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for x in r["runs"]:
        flush = f"FLUSH_INTERVAL_MILLIS={x['flush_interval_ms']}"
        out.append((f"latency PutRecords ack -> aggregate item, {flush} "
                    f"({x['rate']} records/s, scans every {x['scan_ms']} ms)",
                    f"p50 {x['p50_s']} s, p95 {x['p95_s']} s, p99 {x['p99_s']} s, max {x['max_s']} s",
                    "default: p50 <= 1.5, p99 <= 3"))
        out.append((f"aggregate writes per 10,000 clean records, {flush}",
                    f"{x['aggregate_writes_per_10k_clean']}", ""))
    return out


def plot(r: dict[str, Any], path: Path) -> None:
    """The latency distribution (cumulative) of each flush interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for x in r["runs"]:
        values = x["latency_s"]
        if values:
            ys = [(i + 1) / len(values) * 100 for i in range(len(values))]
            ax.plot(values, ys, label=f"FLUSH_INTERVAL_MILLIS={x['flush_interval_ms']}: "
                                      f"p50 {x['p50_s']} s, p99 {x['p99_s']} s")
    for q in (50, 95, 99):
        ax.axhline(q, color="#999999", linestyle=":", linewidth=0.8)
    ax.set_xlabel("seconds from the PutRecords acknowledgement to the aggregate item")
    ax.set_ylabel("% of clean records")
    ax.set_xlim(left=0)
    ax.set_title(f"Latency at {r['rate']} records/s, {r['shards']} shards, {r['workers']} workers")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.latency")
    p.add_argument("--out", default="bench-out")
    p.add_argument("--rate", type=int, default=200)
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--intervals", default=",".join(map(str, DEFAULT_INTERVALS_MS)))
    args = p.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    r = run(out_dir, tuple(int(x) for x in args.intervals.split(",")), args.rate, args.seconds)
    plot(r, out_dir / "latency.png")
    (out_dir / "latency.json").write_text(json.dumps(r, indent=2))
    for name, value, target in rows(r):
        print(f"{name:<100} {value:<50} {target}")
    bad = [x for x in r["runs"] if x["not_drained"] or x["not_seen"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
