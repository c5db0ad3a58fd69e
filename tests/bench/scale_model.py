"""The scale model of docs/scale.md, from measured figures (``python -m tests.bench.scale_model``).

Inputs: the worker's CPU per 100,000 records and its resident memory, as ``make bench``
measured them (``bench-out/bench.json``; ``--cpu-per-100k`` and friends override), the CDK
defaults (infra/kinesis_aggs_infra/config.py) and the item layout of the aggregates
(one fence mark per shard on every item it writes: docs/design.md#exactly-once).  Output: for 4, 64, 512 and
2,048 shards at 1,000 records/s each, the tasks and their vCPU and memory, and the write
units per second on the hottest ``kinesisAggs`` item for each flush interval, with the
number of sub-items (``AGGREGATE_SUB_ITEMS``) that keeps it under half of DynamoDB's 1,000
write units per second per item.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

SHARD_COUNTS = (4, 64, 512, 2048)
RECORDS_PER_S = 1000  # per shard: a shard's write limit (1,000 records/s or 1 MB/s)
VENDORS = 2
ITEM_WCU_LIMIT = 1000  # write units per second that DynamoDB gives one item
TARGET_SHARE = 0.5
#: bytes of an aggregate item without marks (keys, passenger, trips, windowEnd, updatedAt)
ITEM_BASE_BYTES = 150
#: one fence mark: "mark_shardId-000000000123" (25) + "<56-digit sequence>:<sub>" (58)
MARK_BYTES = 83
ITEM_MAX_BYTES = 400 * 1024
#: KCL polls a shard once per idleTimeBetweenReadsInMillis (base.properties: 1 s), so per
#: batch means about one write per item per second anyway
AWS_POLL_S = 1.0
FLUSH_INTERVALS_S = (0.0, 1.0, 5.0, 30.0)
SUB_ITEM_CHOICES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# CDK defaults (infra/kinesis_aggs_infra/config.py)
TASK_VCPU = 1.0
TASK_MEMORY_MB = 2048
SHARDS_PER_WORKER = 2


def hot_item(shards: int, flush_s: float, sub_items: int) -> dict[str, float]:
    """Writes and write units per second on the hottest item (one vendor, the current window)."""
    writers = math.ceil(shards / sub_items)  # shards writing one sub-item
    every_s = max(flush_s, AWS_POLL_S)
    size = ITEM_BASE_BYTES + MARK_BYTES * writers
    wcu_per_write = math.ceil(size / 1024)
    writes = writers / every_s
    return {"writes_per_s": round(writes, 1), "item_kb": round(size / 1024, 1),
            "wcu_per_write": wcu_per_write, "wcu_per_s": round(writes * wcu_per_write, 1),
            "fits": size <= ITEM_MAX_BYTES}


def sub_items_needed(shards: int, flush_s: float) -> int | None:
    for n in SUB_ITEM_CHOICES:
        h = hot_item(shards, flush_s, n)
        if h["fits"] and h["wcu_per_s"] <= TARGET_SHARE * ITEM_WCU_LIMIT:
            return n
    return None


def model(cpu_s_per_100k: float, jvm_mb: float, processor_mb: float) -> dict[str, Any]:
    rows = []
    for shards in SHARD_COUNTS:
        tasks = math.ceil(shards / SHARDS_PER_WORKER)
        per_task_records = SHARDS_PER_WORKER * RECORDS_PER_S
        vcpu = per_task_records * cpu_s_per_100k / 100_000
        memory = jvm_mb + SHARDS_PER_WORKER * processor_mb
        hot = {}
        for f in FLUSH_INTERVALS_S:
            one = hot_item(shards, f, 1)
            hot[str(f)] = {**one, "sub_items_needed": sub_items_needed(shards, f),
                           "table_writes_per_s": round(shards * VENDORS / max(f, AWS_POLL_S), 1)}
        rows.append({"shards": shards, "tasks": tasks, "vcpu_used_per_task": round(vcpu, 2),
                     "vcpu_share": round(vcpu / TASK_VCPU, 2), "memory_mb_per_task": round(memory),
                     "memory_share": round(memory / TASK_MEMORY_MB, 2), "hot_item": hot})
    return {"inputs": {"cpu_s_per_100k": cpu_s_per_100k, "jvm_mb": jvm_mb, "processor_mb": processor_mb,
                       "records_per_s_per_shard": RECORDS_PER_S, "shards_per_worker": SHARDS_PER_WORKER,
                       "task": f"{TASK_VCPU:g} vCPU / {TASK_MEMORY_MB} MB"}, "rows": rows}


def measured(bench_json: Path) -> dict[str, float]:
    """CPU and memory inputs from a ``make bench`` result."""
    r = json.loads(bench_json.read_text())
    runs = {x["shards"]: x for x in r["memory"]["runs"]}
    two = runs.get(1) or next(iter(runs.values()))  # the JVM with few leases
    procs = [mb for x in runs.values() for mb in x["processor_rss_mb"]]
    return {"cpu_s_per_100k": r["drain_ours"]["worker_cpu_s_per_100k"], "jvm_mb": max(
        x["jvm_rss_mb"] for x in runs.values() if x["shards"] <= 4) if runs else two["jvm_rss_mb"],
        "processor_mb": max(procs)}


def print_model(m: dict[str, Any]) -> None:
    i = m["inputs"]
    print(f"inputs: {i['cpu_s_per_100k']} CPU s per 100,000 records (JVM + processors), "
          f"JVM {i['jvm_mb']} MB, record processor {i['processor_mb']} MB; "
          f"{i['records_per_s_per_shard']:,} records/s per shard, "
          f"{i['shards_per_worker']} shards per task of {i['task']}")
    print(f"{'shards':>6} {'tasks':>6} {'vCPU used/task':>15} {'memory/task':>12}")
    for r in m["rows"]:
        print(f"{r['shards']:>6} {r['tasks']:>6} {r['vcpu_used_per_task']:>10} ({r['vcpu_share']:.0%}) "
              f"{r['memory_mb_per_task']:>7} MB ({r['memory_share']:.0%})")
    print()
    print("hottest kinesisAggs item (one vendor, current window), one item per window "
          "(AGGREGATE_SUB_ITEMS=1):")
    print(f"{'shards':>6} {'flush':>6} {'writes/s':>9} {'item KB':>8} {'WCU/write':>9} {'WCU/s':>9} "
          f"{'table writes/s':>14} {'sub-items for <= 500 WCU/s':>27}")
    for r in m["rows"]:
        for f, h in r["hot_item"].items():
            flush = "batch" if float(f) == 0 else f"{float(f):g} s"
            need = h["sub_items_needed"] or f"> {SUB_ITEM_CHOICES[-1]}"
            print(f"{r['shards']:>6} {flush:>6} {h['writes_per_s']:>9} {h['item_kb']:>8} "
                  f"{h['wcu_per_write']:>9} {h['wcu_per_s']:>9} {h['table_writes_per_s']:>14} {need!s:>27}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.scale_model")
    p.add_argument("--bench", default="bench-out/bench.json", help="a make bench result to read inputs from")
    p.add_argument("--cpu-per-100k", type=float)
    p.add_argument("--jvm-mb", type=float)
    p.add_argument("--processor-mb", type=float)
    args = p.parse_args(argv)
    inputs: dict[str, float] = {}
    if Path(args.bench).is_file():
        inputs = measured(Path(args.bench))
    for key, value in (("cpu_s_per_100k", args.cpu_per_100k), ("jvm_mb", args.jvm_mb),
                       ("processor_mb", args.processor_mb)):
        if value is not None:
            inputs[key] = value
    missing = {"cpu_s_per_100k", "jvm_mb", "processor_mb"} - set(inputs)
    if missing:
        p.error(f"no {args.bench} and no value for {', '.join(sorted(missing))}: run `make bench` first")
    m = model(**inputs)
    print_model(m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
