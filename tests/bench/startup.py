"""Time to the first record on a fresh local stack: empty lease table, 2 workers, 4 shards.

One figure per start, from the moment the worker processes are spawned to the first
checkpoint that moves past TRIM_HORIZON (records durably applied, not just delivered), and
to the moment every shard has one.  Each start gets its own stack, so nothing is warm but
the page cache.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from consumer_app.logs import event_time
from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, worker_env
from producer.produce import Plan, produce
from producer.summary import Summary


def one_start(log_dir: Path, workers: int, shards: int, timeout_s: float = 120) -> dict[str, float]:
    st = stack.private_stack(log_dir, shards=shards)
    st.start()
    try:
        produce(Plan(st.stream, count=400, seed=9),
                Summary(), st.client("kinesis"))
        app = f"startup-{int(time.time() * 1000)}"
        env = worker_env(st.env(), app)
        ddb = st.client("dynamodb")
        first = every = None
        procs = [Worker(f"w{i + 1}", env, log_dir, restart=False) for i in range(workers)]
        start, spawned = time.monotonic(), time.time()
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
        return {"first_record_s": round(first or every, 2), "every_shard_s": round(every, 2),
                "steps_s": steps(procs[0], spawned)}
    finally:
        st.stop()


#: Where one worker's start-up stands, from the first line of its daemon log that shows it.
_STEPS = (
    ("JVM up (after settings, table check, lease bootstrap)", re.compile(r"AwsCredentialsProvider")),
    ("configuration and Scheduler built", re.compile(r"Launcher settings")),
    ("KCL initialized", re.compile(r"Initialization complete")),
    ("first lease assigned to it", None),  # its own name in "Assigned lease ... to <worker>"
    ("first shard consumer created", re.compile(r"Created new shardConsumer")),
)
_TS = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+)Z ")


def steps(worker: Worker, spawned: float) -> dict[str, float]:
    """Seconds from the spawn of ``worker`` to each step of its start (from its logs)."""
    out: dict[str, float] = {}
    owned = re.compile(rf"Assigned lease \S+ ownership from \S+ to {re.escape(worker.name)} ")
    for line in worker.stdout_path.read_text(errors="replace").splitlines():
        m = _TS.match(line)
        if not m:
            continue
        for name, pattern in _STEPS:
            if name not in out and (pattern or owned).search(line):
                ts = datetime.fromisoformat(m.group(1) + "+00:00").timestamp()
                out[name] = round(ts - spawned, 2)
    starts = [event_time(e) for e in worker.events() if e.get("event") == "initialize"]
    if starts:
        out["first record processor initialized"] = round(min(starts) - spawned, 2)
    return out


def fresh_starts(out_dir: Path, rounds: int = 10, workers: int = 2, shards: int = 4) -> dict[str, Any]:
    runs = [one_start(out_dir / f"start-{n}", workers, shards) for n in range(rounds)]
    firsts = [r["first_record_s"] for r in runs]
    return {"workers": workers, "shards": shards, "runs": runs,
            "first_record_median_s": round(statistics.median(firsts), 2),
            "first_record_worst_s": max(firsts)}
