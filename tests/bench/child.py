"""One shard's ceiling through the real protocol (``make bench``, or alone:
``python -m tests.bench.child``).

Drives one record-processor child (``python -m consumer_app.processor``: the real
``amazon_kclpy`` I/O on stdin/stdout) with MultiLangDaemon messages, as the daemon would,
without a JVM or Kinesis: ``initialize``, then ``processRecords`` batches of 10,000
records, answering each ``checkpoint`` request, then ``shutdownRequested``.  The child
writes to the real moto server.  Printed: records/s of the child, as a ratio to what this
machine does for base64-decoding and ``json.loads`` of the same records alone, and where
the child's time goes (a cProfile run of the same batches, grouped into decode, validate,
aggregate, write, protocol).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from devkit.local import stack
from devkit.local.workers import worker_env
from producer.trips import Generator

SHARD = "shardId-000000000000"
FIRST_SEQUENCE = 49_680_609_725_454_526_629_148_511_878_806_381_644_873_921_151_658_622_978
#: A Kinesis shard serves a poller at most 2 MB/s: about 6,000 records/s at ~330 bytes.
SHARD_READ_BYTES_PER_S = 2 * 1024 * 1024


def batches(n_batches: int, size: int, seed: int = 7, unclean_ratio: float = 0.05,
            records_per_s: int = 6000) -> tuple[list[bytes], list[str], int]:
    """processRecords lines (as the daemon sends them), the records' base64 data, total bytes.

    Arrival times advance at ``records_per_s``, a shard at its read limit, so that the
    windows move as they would.
    """
    gen = Generator(seed=seed, unclean_ratio=unclean_ratio)
    base_ms = 1_764_230_400_000
    lines, datas, total = [], [], 0
    i = 0
    for _ in range(n_batches):
        records = []
        for _ in range(size):
            g = gen.next()
            data = base64.b64encode(g.data).decode()
            datas.append(data)
            total += len(g.data)
            records.append({"action": "record", "data": data, "partitionKey": g.partition_key,
                            "sequenceNumber": str(FIRST_SEQUENCE + i * 10**20), "subSequenceNumber": 0,
                            "approximateArrivalTimestamp": base_ms + i * 1000 // records_per_s})
            i += 1
        lines.append(json.dumps({"action": "processRecords", "records": records,
                                 "millisBehindLatest": 0}).encode() + b"\n")
    return lines, datas, total


def baseline_seconds(datas: list[str]) -> float:
    """CPU seconds of base64-decoding and ``json.loads`` of every record alone (one core):
    what the ratios of the rule path and of a child are taken against."""
    start = time.process_time()
    for d in datas:
        try:  # noqa: SIM105 (contextlib.suppress would slow the baseline down)
            json.loads(base64.b64decode(d))
        except ValueError:  # the unclean share: not UTF-8, not JSON
            pass
    return time.process_time() - start


def baseline(datas: list[str]) -> float:
    """records/s of :func:`baseline_seconds`."""
    gc.collect()
    return len(datas) / baseline_seconds(datas)


class Child:
    """One record processor process and the daemon's side of its protocol."""

    def __init__(self, env: dict[str, str], profile_to: Path | None, stderr: IO[bytes]) -> None:
        cmd = [sys.executable]
        if profile_to is not None:
            cmd += ["-m", "cProfile", "-o", str(profile_to)]
        cmd += ["-m", "consumer_app.processor"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                     env=env, cwd=Path(__file__).resolve().parents[2])
        self.checkpoints = 0

    def send(self, line: bytes) -> str:
        """Send one message; answer checkpoints until the child reports the message done."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line)
        self.proc.stdin.flush()
        while True:
            raw = self.proc.stdout.readline()
            if not raw:
                raise RuntimeError(f"the record processor exited ({self.proc.wait()}) mid-protocol")
            if not raw.strip():
                continue  # amazon_kclpy frames each message with blank lines
            msg = json.loads(raw)
            if msg["action"] == "checkpoint":
                self.checkpoints += 1
                reply = {"action": "checkpoint", "sequenceNumber": msg["sequenceNumber"],
                         "subSequenceNumber": msg["subSequenceNumber"], "error": None}
                self.proc.stdin.write(json.dumps(reply).encode() + b"\n")
                self.proc.stdin.flush()
            elif msg["action"] == "status":
                return str(msg["responseFor"])

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(60)


def drive(st: stack.Stack, lines: list[bytes], log: Path, profile_to: Path | None = None,
          **env_extra: str) -> dict[str, Any]:
    env = worker_env(st.env(), f"child-bench-{os.getpid()}", WORKER_ID="bench", STATS_INTERVAL_SECONDS="3600",
                     **env_extra)
    with open(log, "ab") as err:
        child = Child(env, profile_to, err)
        init = {"action": "initialize", "shardId": SHARD, "sequenceNumber": "TRIM_HORIZON",
                "subSequenceNumber": 0}
        child.send(json.dumps(init).encode() + b"\n")
        start = time.perf_counter()
        for line in lines:
            child.send(line)
        child.send(b'{"action": "shutdownRequested"}\n')
        secs = time.perf_counter() - start
        child.send(b'{"action": "leaseLost"}\n')
        code = child.close()
    if code != 0:
        raise RuntimeError(f"the record processor exited {code}; see {log}")
    return {"seconds": secs, "checkpoints": child.checkpoints}


#: (module path part, function name) -> cumulative seconds in the profile.
FUNCTIONS = {
    "read": ("amazon_kclpy/kcl.py", "read_line"),
    "parse": ("amazon_kclpy/kcl.py", "load_action"),
    "answer": ("amazon_kclpy/kcl.py", "write_action"),
    "base64": ("amazon_kclpy/messages.py", "binary_data"),
    "validate": ("consumer_app/rules/validation.py", "validate"),
    "split": ("consumer_app/processor.py", "split_batch"),
    "aggregate": ("consumer_app/rules/aggregation.py", "aggregate"),
    "window": ("consumer_app/rules/batching.py", "add"),
    "rejects": ("consumer_app/dynamo/rejects.py", "write"),
    "aggregates": ("consumer_app/dynamo/aggregates.py", "write"),
    "checkpoint": ("consumer_app/processor.py", "_checkpoint"),
    "total": ("amazon_kclpy/kcl.py", "run"),
}


def profile_breakdown(path: Path) -> dict[str, float]:
    """Where the child's time went, in parts that do not overlap (seconds, under cProfile)."""
    stats = pstats.Stats(str(path))
    cum = dict.fromkeys(FUNCTIONS, 0.0)
    for (filename, _line, func), row in stats.stats.items():  # type: ignore[attr-defined]
        for name, (part, fn) in FUNCTIONS.items():
            if func == fn and filename.endswith(part):
                cum[name] = max(cum[name], row[3]) if name == "total" else cum[name] + row[3]
    out = {
        "protocol: read, parse messages (amazon_kclpy's Records), answer": cum["read"] + cum["parse"]
        + cum["answer"],
        "decode: base64": cum["base64"],
        "validate: UTF-8, JSON, fields": cum["validate"],
        "split: positions, clean records, rejects": cum["split"] - cum["validate"] - cum["base64"],
        "aggregate (and the batching window)": cum["aggregate"] + cum["window"],
        "write: rejects (BatchWriteItem, waits on moto)": cum["rejects"],
        "write: aggregates (fenced UpdateItem, waits on moto)": cum["aggregates"],
        "checkpoint round trip": cum["checkpoint"],
    }
    out["other"] = cum["total"] - sum(out.values())
    out["total (KCLProcess.run)"] = cum["total"]
    return {k: round(v, 3) for k, v in out.items()}


def run(out_dir: Path, n_batches: int = 20, size: int = 10_000,
        unclean_ratios: tuple[float, ...] = (0.0, 0.05), **env_extra: str) -> dict[str, Any]:
    with stack.running(out_dir / "logs-child", shards=1) as st:
        return {"runs": [one_mix(st, out_dir, n_batches, size, ratio, **env_extra)
                         for ratio in unclean_ratios]}


def one_mix(st: stack.Stack, out_dir: Path, n_batches: int, size: int, unclean_ratio: float,
            **env_extra: str) -> dict[str, Any]:
    lines, datas, total_bytes = batches(n_batches, size, unclean_ratio=unclean_ratio)
    records = n_batches * size
    base = baseline(datas)
    logs = out_dir / "logs-child"
    timed = drive(st, lines, logs / "child.err.log", **env_extra)
    with tempfile.TemporaryDirectory() as tmp:
        prof = Path(tmp) / "child.prof"
        profiled = drive(st, lines, logs / "child-profiled.err.log", profile_to=prof, **env_extra)
        breakdown = profile_breakdown(prof)
    rate = records / timed["seconds"]
    shard_limit = SHARD_READ_BYTES_PER_S / (total_bytes / records)
    return {
        "unclean_ratio": unclean_ratio, "records": records, "batch": size,
        "bytes_per_record": round(total_bytes / records),
        "child_records_per_s": round(rate), "seconds": round(timed["seconds"], 2),
        "checkpoints": timed["checkpoints"],
        "baseline_b64_json_records_per_s": round(base), "child_vs_baseline": round(rate / base, 2),
        "shard_read_limit_records_per_s": round(shard_limit),
        "child_vs_shard_limit": round(rate / shard_limit, 1),
        "profiled_seconds": round(profiled["seconds"], 2), "profile_s": breakdown,
    }


def rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for x in r["runs"]:
        mix = f"{x['unclean_ratio']:.0%} unclean"
        out += [
            (f"one record processor through the protocol, batches of {x['batch']:,}, {mix}, moto writes",
             f"{x['child_records_per_s']:,} records/s", ""),
            (f"  x the shard read limit (2 MB/s = {x['shard_read_limit_records_per_s']:,} records/s "
             f"at {x['bytes_per_record']} B)", f"x{x['child_vs_shard_limit']}", ">= 5"),
            ("  / base64 + json.loads of the same records alone",
             f"{x['child_vs_baseline']} ({x['baseline_b64_json_records_per_s']:,} records/s)", ""),
        ]
        total = x["profile_s"].get("total (KCLProcess.run)") or 1
        for name, secs in x["profile_s"].items():
            if name != "total (KCLProcess.run)":
                out.append((f"  profile ({mix}): {name}", f"{secs / total:.0%}", ""))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.child")
    p.add_argument("--out", default="bench-out")
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch", type=int, default=10_000)
    args = p.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    r = run(out_dir, args.batches, args.batch)
    (out_dir / "child.json").write_text(json.dumps(r, indent=2))
    for name, value, target in rows(r):
        print(f"{name:<90} {value:<32} {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
