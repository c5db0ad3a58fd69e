"""Scaling figures: drain a fixed backlog on 8 shards with 1, 2 and 4 workers (records/s and
speed-up), the time to rebalance after adding a worker, and a PNG of lag and throughput
over time for the 2-worker drain."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from consumer_app.logs import event_time
from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, worker_env
from producer.summary import Summary
from tests.bench.procfs import CpuSampler

PROPERTIES = Path(__file__).resolve().parents[2] / "properties"



def properties_dir(out: Path, **overrides: str) -> Path:
    """A copy of ``properties/`` with some keys of ``base.properties`` set otherwise.

    The scaling drains use smaller batches (``maxRecords``), so that a backlog takes several
    polls per shard and the plot shows the lag going down rather than one bar.
    """
    out.mkdir(parents=True, exist_ok=True)
    for src in PROPERTIES.iterdir():
        lines = src.read_text().splitlines()
        if src.name == "base.properties":
            for key, value in overrides.items():
                hits = [i for i, line in enumerate(lines) if line.split("=")[0].strip() == key]
                if not hits:
                    raise KeyError(f"{key} is not set in {src}")
                for i in hits:
                    lines[i] = f"{key} = {value}"
        (out / src.name).write_text("\n".join(lines) + "\n")
    return out


def drain(st: stack.Stack, summary: Summary, workers: int, log_dir: Path, app: str | None = None,
          command: list[str] | None = None, **env_extra: str) -> dict[str, Any]:
    """One drain of the whole backlog from TRIM_HORIZON, under a fresh application name.

    Timed from the first lease taken (processing can start) to every shard checkpointed at
    its last record.  ``command`` replaces the worker command (the benchmark's launcher).
    """
    app = app or f"scale-{workers}w-{int(time.time())}"
    env = worker_env(st.env(), app, **{"STATS_INTERVAL_SECONDS": "1", **env_extra})
    ws = [Worker(f"{app}-w{i + 1}", env, log_dir, restart=False) for i in range(workers)]
    for w in ws:
        if command:
            w.command = command
    ddb = st.client("dynamodb")
    doc = summary.to_json()
    with Supervisor(ws) as sup:
        cpu = CpuSampler([w.proc.pid for w in ws if w.proc is not None])
        cpu.start()
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and inspect.behind(ddb, app, doc):
            time.sleep(0.3)
        drained = time.monotonic() < deadline
        t_done = time.time()
        cpu.stop()
        sup.stop_gracefully(30)
    events = [{**ev, "worker_name": w.name} for w in ws for ev in w.events()]
    starts = [event_time(e) for e in events if e.get("event") == "initialize"]
    out: dict[str, Any] = {"workers": workers, "application": app, "events": events}
    if not starts or not drained:
        out["error"] = "never drained"
        return out
    secs = t_done - min(starts)
    worker_cpu = cpu.between(min(starts), t_done)
    out.update(seconds=round(secs, 2), records_per_s=round(doc["sent"] / secs), t0=min(starts),
               t_done=t_done, lease_grants=len(starts), worker_cpu_s=round(worker_cpu, 2),
               worker_cpu_s_per_100k=round(worker_cpu * 100_000 / doc["sent"], 2))
    return out


def rebalance_after_adding(st: stack.Stack, log_dir: Path) -> float | None:
    """1 worker holds all 8 shards; a second one starts: seconds until each holds 4 (+-1)."""
    app = f"rebalance-{int(time.time())}"
    env = worker_env(st.env(), app)
    first = Worker(f"{app}-w1", env, log_dir, restart=False)
    ddb = st.client("dynamodb")

    def owners() -> dict[str, int]:
        return inspect.owners(ddb, app)

    with Supervisor([first]) as sup:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and owners().get(first.name) != 8:
            time.sleep(0.5)
        second = Worker(f"{app}-w2", env, log_dir, restart=False)
        sup.add(second)
        start = time.monotonic()
        result = None
        while time.monotonic() - start < 300:
            o = owners()
            if len(o) == 2 and abs(o.get(first.name, 0) - o.get(second.name, 0)) <= 1:
                result = round(time.monotonic() - start, 1)
                break
            time.sleep(0.5)
        sup.stop_gracefully(30)
    return result


def throughput(events: list[dict[str, Any]], t0: float) -> tuple[dict[int, int], dict[int, int]]:
    """Records processed per second and the lag (max millisBehindLatest) per second.

    A record processor's counters start at 0, and a lease that moves (or comes back) gets
    a new processor: so the counters are followed per processor (worker, shard, pid), and
    each counters line adds only what that processor did since its previous line.
    """
    counters = sorted((e for e in events if e.get("event") == "counters"), key=event_time)
    seen: dict[tuple[str, str, Any], int] = {}
    per_second: dict[int, int] = {}
    lag: dict[int, int] = {}
    for e in counters:
        key = (e.get("worker_name", e.get("worker")), e["shard"], e.get("pid"))
        sec = int(event_time(e) - t0)
        per_second[sec] = per_second.get(sec, 0) + e["records_in"] - seen.get(key, 0)
        seen[key] = e["records_in"]
        if e.get("millis_behind_latest") is not None:
            lag[sec] = max(lag.get(sec, 0), e["millis_behind_latest"])
    return per_second, lag


def lease_moves(events: list[dict[str, Any]], t0: float) -> list[float]:
    """Seconds (since t0) of every lease grant after a shard's first: the moves."""
    grants = sorted((event_time(e) - t0, e["shard"]) for e in events if e.get("event") == "initialize")
    first: set[str] = set()
    moves = []
    for t, shard in grants:
        if shard in first:
            moves.append(t)
        first.add(shard)
    return moves


def plot(run: dict[str, Any], path: Path) -> None:
    """Lag (max millisBehindLatest over shards) and throughput (records/s) over time, with
    the lease moves marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_second, lag = throughput(run["events"], run["t0"])
    moves = lease_moves(run["events"], run["t0"])
    fig, ax1 = plt.subplots(figsize=(9, 4.5))
    xs = sorted(per_second)
    ax1.bar(xs, [per_second[x] for x in xs], width=1.0, color="#4C72B0", alpha=0.6,
            label="records processed (per second, per record processor's counters)")
    for i, m in enumerate(moves):
        ax1.axvline(m, color="#555555", linestyle=":", linewidth=1,
                    label=f"lease moved ({len(moves)} moves)" if i == 0 else None)
    ax1.set_xlabel("seconds since the first lease")
    ax1.set_ylabel("records")
    ax1.set_ylim(bottom=0)
    ax2 = ax1.twinx()
    ls = sorted(lag)
    ax2.plot(ls, [lag[x] / 1000 for x in ls], color="#C44E52", label="lag: max millisBehindLatest (s)")
    ax2.set_ylabel("lag (s)")
    ax2.set_ylim(bottom=0)
    fig.legend(loc="upper right", bbox_to_anchor=(0.9, 0.88))
    ax1.set_title(f"Draining the backlog: 8 shards, {run['workers']} workers, "
                  f"{run['records_per_s']:,} records/s, {run['lease_grants']} lease grants")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
