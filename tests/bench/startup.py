"""Time to the first record on a fresh local stack: empty lease table, 2 workers, 4 shards.

One figure per start, from the moment the worker processes are spawned to the first
checkpoint that moves past TRIM_HORIZON (records durably applied, not just delivered), and
to the moment every shard has one.  Each start gets its own stack, so nothing is warm but
the page cache.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from consumer_app.local import inspect, stack
from consumer_app.local.workers import Supervisor, Worker, worker_env
from producer.__main__ import parse_args as producer_args
from producer.__main__ import run as produce
from producer.summary import Summary


def one_start(log_dir: Path, workers: int, shards: int, timeout_s: float = 120) -> dict[str, float]:
    st = stack.private_stack(log_dir, shards=shards)
    st.start()
    try:
        produce(producer_args(["--stream", st.stream, "--count", "400", "--seed", "9", "--quiet"]),
                Summary(), st.client("kinesis"))
        app = f"startup-{int(time.time() * 1000)}"
        env = worker_env(st.env(), app)
        ddb = st.client("dynamodb")
        first = every = None
        procs = [Worker(f"w{i + 1}", env, log_dir, restart=False) for i in range(workers)]
        start = time.monotonic()
        with Supervisor(procs) as sup:
            while every is None:
                sup.check()
                elapsed = time.monotonic() - start
                if elapsed > timeout_s:
                    raise TimeoutError(f"no record processed {timeout_s:.0f} s after start (logs: {log_dir})")
                progressed = [inspect.started(v) for v in inspect.leases(ddb, app).values()]
                if first is None and any(progressed):
                    first = elapsed
                if len(progressed) == shards and all(progressed):
                    every = elapsed
                time.sleep(0.05)
        return {"first_record_s": round(first or every, 2), "every_shard_s": round(every, 2)}
    finally:
        st.stop()


def fresh_starts(out_dir: Path, rounds: int = 10, workers: int = 2, shards: int = 4) -> dict[str, Any]:
    runs = [one_start(out_dir / f"start-{n}", workers, shards) for n in range(rounds)]
    firsts = [r["first_record_s"] for r in runs]
    return {"workers": workers, "shards": shards, "runs": runs,
            "first_record_median_s": round(statistics.median(firsts), 2),
            "first_record_worst_s": max(firsts)}
