"""``make bench``: figures printed from one run on this machine (not a timed test).

0. fresh starts: time to the first record;
1. the rule path (decode, validate, aggregate) in records/s on one core, 200,000 records,
   and as a ratio to base64 + ``json.loads`` of the same records alone;
2. drain rate of a 50,000-record backlog on 4 shards with 2 workers: our processor, then
   the same daemon with a processor that only checkpoints, their ratio (target >= 0.8) and
   the CPU seconds per 100,000 records of the workers' own processes (JVM + processors);
3. the emulator's raw GetRecords drain rate with boto3 (the ceiling);
4. the scaling drains (1, 2, 4 workers on 8 shards), lease grants, the rebalance, a plot;
5. one record processor driven through the real protocol (tests/bench/child.py);
6. latency and writes per flush interval at a steady 200 records/s (tests/bench/latency.py);
7. resident memory of one worker holding 1, 4 and 8 shards (tests/bench/memory.py).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from amazon_kclpy.messages import Record

from consumer_app import metrics
from consumer_app.processor import split_batch
from consumer_app.rules.aggregation import aggregate
from devkit.local import stack
from producer.produce import Plan, produce
from producer.summary import Summary
from producer.trips import Generator
from tests.bench import child, latency, memory
from tests.bench.startup import fresh_starts


def rule_path(n: int, batch: int = 1000) -> dict[str, float]:
    gen = Generator(seed=1, unclean_ratio=0.05)
    base = 1_764_230_400_000
    seq = 49_680_609_725_454_526_629_148_511_878_806_381_644_873_921_151_658_622_978
    raw = []
    for i in range(n):
        g = gen.next()
        raw.append({"action": "record", "data": base64.b64encode(g.data).decode(),
                    "partitionKey": g.partition_key, "sequenceNumber": str(seq + i * 1000),
                    "subSequenceNumber": 0,
                    "approximateArrivalTimestamp": base + i})
    records = [Record(r) for r in raw]  # what amazon_kclpy hands to process_records
    # The 200,000 input records stay alive for the whole measurement, which a record
    # processor never sees (it holds one batch): keep the cyclic GC from re-scanning them.
    gc.collect()
    gc.freeze()
    datas = [r["data"] for r in raw]

    def rules() -> float:
        # CPU time of this process: "on one core", and robust to other load on the machine
        start = time.process_time()
        for i in range(0, n, batch):
            clean, _rejects, _ = split_batch(records[i:i + batch])
            aggregate(clean, 30)
        return time.process_time() - start

    # the same records, base64-decoded and parsed with json.loads alone; interleaved with the
    # rule path and best of three each, so that both see the same machine
    secs = min(rules() for _ in range(3))
    base = min(child.baseline_seconds(datas) for _ in range(3))
    gc.unfreeze()
    return {"records": n, "cpu_seconds": round(secs, 3), "records_per_s": round(n / secs),
            "baseline_b64_json_records_per_s": round(n / base), "ratio_to_baseline": round(base / secs, 2)}


def raw_getrecords(st: stack.Stack) -> dict[str, float]:
    k = st.client("kinesis")
    shards = [s["ShardId"] for s in k.list_shards(StreamName=st.stream)["Shards"]]

    def drain(shard: str) -> int:
        it = k.get_shard_iterator(StreamName=st.stream, ShardId=shard,
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        n = 0
        while it:
            r = k.get_records(ShardIterator=it, Limit=10000)
            n += len(r["Records"])
            if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
                break
            it = r.get("NextShardIterator")
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(len(shards)) as ex:
        total = sum(ex.map(drain, shards))
    secs = time.perf_counter() - start
    return {"records": total, "seconds": round(secs, 2), "records_per_s": round(total / secs)}


def drain(st: stack.Stack, summary: Summary, processor: str, workers: int,
          log_dir: Path) -> dict[str, Any]:
    """Drain with our processor or the checkpoint-only one (same launcher, same timing)."""
    from tests.bench import scaling as sc

    run = sc.drain(st, summary, workers, log_dir, app=f"bench-{processor}-{int(time.time())}",
                   command=[sys.executable, "-m", "tests.bench.launch"], BENCH_PROCESSOR=processor,
                   STATS_INTERVAL_SECONDS="5")
    events = run.pop("events")
    out = {k: v for k, v in run.items() if k not in ("t0", "t_done")}
    if "error" in out:
        return out
    out["records"] = summary.sent
    out["seconds_first_lease_to_drained"] = out.pop("seconds")
    if processor == "ours":
        clean, writes, rejects = (metrics.total(events, k) for k in ("clean", "aggregate_writes",
                                                                     "reject_writes"))
        out.update(clean=clean, aggregate_writes=writes, reject_writes=rejects,
                   aggregate_writes_per_10k_clean=round(writes * 10_000 / max(clean, 1), 2))
    return out


# Batches of this size make a drain several polls long per shard (base.properties: 10000).
SCALING_MAX_RECORDS = 500


def scaling(backlog: int, out_dir: Path) -> dict[str, Any]:
    from tests.bench import scaling as sc

    st = stack.private_stack(out_dir / "logs-scaling", shards=8)
    out: dict[str, Any] = {"backlog": backlog, "shards": 8, "max_records": SCALING_MAX_RECORDS}
    try:
        st.start()
        print(f"   loading {backlog:,} records on 8 shards ...", file=sys.stderr)
        summary = Summary()
        produce(Plan(st.stream, count=backlog, unclean_ratio=0.05, seed=4), summary, st.client("kinesis"))
        props = sc.properties_dir(out_dir / "properties-scaling", maxRecords=str(SCALING_MAX_RECORDS))
        runs = {}
        for n in (1, 2, 4):
            print(f"4. drain on 8 shards with {n} worker(s) ...", file=sys.stderr)
            runs[n] = sc.drain(st, summary, n, out_dir / "logs-scaling", KCL_PROPERTIES_DIR=str(props))
        base = runs[1]["records_per_s"]
        out["drains"] = {str(n): {"records_per_s": r["records_per_s"], "seconds": r["seconds"],
                                  "lease_grants": r["lease_grants"], "worker_cpu_s": r["worker_cpu_s"],
                                  "speedup": round(r["records_per_s"] / base, 2)} for n, r in runs.items()}
        print("5. rebalance after adding a worker ...", file=sys.stderr)
        out["rebalance_after_adding_a_worker_s"] = sc.rebalance_after_adding(st, out_dir / "logs-scaling")
        sc.plot(runs[2], out_dir / "drain-2-workers.png")
        out["plot"] = str(out_dir / "drain-2-workers.png")
    finally:
        st.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.run")
    p.add_argument("--rule-records", type=int, default=200_000)
    p.add_argument("--backlog", type=int, default=50_000)
    p.add_argument("--out", default="bench-out")
    p.add_argument("--startup-rounds", type=int, default=10,
                   help="fresh starts of 2 workers on 4 shards, each on its own stack (0: skip)")
    p.add_argument("--scaling-backlog", type=int, default=32_000,
                   help="records on 8 shards for the 1/2/4-worker drains (0: skip)")
    p.add_argument("--child-batches", type=int, default=20,
                   help="batches of 10,000 records for the one-child protocol run (0: skip)")
    p.add_argument("--latency-seconds", type=float, default=40.0,
                   help="seconds of steady load per flush interval (0: skip)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory figures")
    args = p.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}

    if args.startup_rounds:
        print(f"0. {args.startup_rounds} fresh starts, 2 workers, 4 shards ...", file=sys.stderr)
        results["startup"] = fresh_starts(out_dir / "logs" / "startup", args.startup_rounds)

    print(f"1. rule path over {args.rule_records:,} records ...", file=sys.stderr)
    results["rule_path"] = rule_path(args.rule_records)

    st = stack.private_stack(out_dir / "logs", shards=4)
    try:
        st.start()
        print(f"   loading a {args.backlog:,}-record backlog on 4 shards ...", file=sys.stderr)
        summary = Summary()
        t0 = time.perf_counter()
        produce(Plan(st.stream, count=args.backlog, unclean_ratio=0.05, seed=3), summary,
                st.client("kinesis"))
        results["backlog_load"] = {"records": summary.sent,
                                   "records_per_s": round(summary.sent / (time.perf_counter() - t0))}
        print("3. raw GetRecords drain (boto3) ...", file=sys.stderr)
        results["raw_getrecords"] = raw_getrecords(st)
        for proc in ("ours", "checkpoint_only"):
            print(f"2. drain with 2 workers, processor={proc} ...", file=sys.stderr)
            results[f"drain_{proc}"] = drain(st, summary, proc, 2, out_dir / "logs")
    finally:
        st.stop()
    if args.scaling_backlog:
        results["scaling"] = scaling(args.scaling_backlog, out_dir)
    if args.child_batches:
        print("6. one record processor through the protocol ...", file=sys.stderr)
        results["child"] = child.run(out_dir, args.child_batches)
    if args.latency_seconds:
        print("7. latency per flush interval ...", file=sys.stderr)
        results["latency"] = latency.run(out_dir, seconds=args.latency_seconds)
        latency.plot(results["latency"], out_dir / "latency.png")
        results["latency"]["plot"] = str(out_dir / "latency.png")
    if not args.no_memory:
        print("8. memory of one worker with 1, 4 and 8 shards ...", file=sys.stderr)
        results["memory"] = memory.run(out_dir)
    ours = results["drain_ours"].get("records_per_s")
    trivial = results["drain_checkpoint_only"].get("records_per_s")
    if ours and trivial:
        results["drain_ratio_ours_vs_checkpoint_only"] = round(ours / trivial, 3)
    cpu_ours = results["drain_ours"].get("worker_cpu_s_per_100k")
    cpu_trivial = results["drain_checkpoint_only"].get("worker_cpu_s_per_100k")
    if cpu_ours and cpu_trivial:
        results["cpu_ratio_ours_vs_checkpoint_only"] = round(cpu_ours / cpu_trivial, 2)
    for r in results.get("latency", {}).get("runs", []):
        r.pop("latency_s", None)  # the plot has them; the JSON keeps the percentiles
    (out_dir / "bench.json").write_text(json.dumps(results, indent=2))
    print_table(results)
    return 0


def print_table(r: dict[str, Any]) -> None:
    rows = []
    su = r.get("startup")
    if su:
        firsts = ", ".join(f"{x['first_record_s']:.1f}" for x in su["runs"])
        rows.append((f"first record after a fresh start, {su['workers']} workers, {su['shards']} shards "
                     f"({len(su['runs'])} starts: {firsts} s)",
                     f"median {su['first_record_median_s']} s, worst {su['first_record_worst_s']} s",
                     "median <= 5, worst <= 8"))
        rows.append(("every shard processing after a fresh start (worst)",
                     f"{max(x['every_shard_s'] for x in su['runs'])} s", ""))
        median = sorted(su["runs"], key=lambda x: x["first_record_s"])[len(su["runs"]) // 2]
        for step, at in median["steps_s"].items():
            rows.append((f"  start at the median ({median['first_record_s']} s), worker w1: {step}",
                         f"{at} s", ""))
    rp = r["rule_path"]
    rows += [
        ("rule path (decode+validate+aggregate), 1 core", f"{rp['records_per_s']:,} records/s", ""),
        ("  / base64 + json.loads of the same records alone",
         f"{rp['ratio_to_baseline']} ({rp['baseline_b64_json_records_per_s']:,} records/s)", ">= 0.8"),
        ("backlog load (PutRecords)", f"{r['backlog_load']['records_per_s']:,} records/s", ""),
        ("raw GetRecords drain, boto3, 4 shards", f"{r['raw_getrecords']['records_per_s']:,} records/s",
         "ceiling"),
        ("drain, our processor, 2 workers", f"{r['drain_ours'].get('records_per_s', 'n/a'):,} records/s", ""),
        ("drain, checkpoint-only processor, 2 workers",
         f"{r['drain_checkpoint_only'].get('records_per_s', 'n/a'):,} records/s", ""),
        ("ratio ours / checkpoint-only", str(r.get("drain_ratio_ours_vs_checkpoint_only", "n/a")), ">= 0.8"),
        ("aggregate writes per 10,000 clean records (backlog drain)",
         str(r["drain_ours"].get("aggregate_writes_per_10k_clean", "n/a")), ""),
        ("worker CPU (JVM + processors) per 100,000 records, our processor",
         f"{r['drain_ours'].get('worker_cpu_s_per_100k', 'n/a')} s", ""),
        ("worker CPU per 100,000 records, checkpoint-only processor",
         f"{r['drain_checkpoint_only'].get('worker_cpu_s_per_100k', 'n/a')} s", ""),
        ("CPU ratio ours / checkpoint-only", str(r.get("cpu_ratio_ours_vs_checkpoint_only", "n/a")), ""),
    ]
    sc = r.get("scaling")
    if sc:
        for n, d in sc["drains"].items():
            # every grant is a processor start; 8 are needed (one per shard), more are moves
            rows.append((f"drain on 8 shards, {n} worker(s), {d['lease_grants']} lease grants (8 needed)",
                         f"{d['records_per_s']:,} records/s", f"speed-up x{d['speedup']}"))
        rows.append(("rebalance after adding a worker (1 -> 2 on 8 shards)",
                     f"{sc['rebalance_after_adding_a_worker_s']} s", ""))
        rows.append(("plot of lag and throughput", sc["plot"], ""))
    if "child" in r:
        rows += child.rows(r["child"])
    if "latency" in r:
        rows += latency.rows(r["latency"])
        rows.append(("plot of the latency distribution", r["latency"]["plot"], ""))
    if "memory" in r:
        rows += memory.rows(r["memory"])
    width = max(len(a) for a, _, _ in rows)
    print(f"{'figure':<{width}}  {'value':>22}  target")
    for a, b, c in rows:
        print(f"{a:<{width}}  {b:>22}  {c}")


if __name__ == "__main__":
    sys.exit(main())
