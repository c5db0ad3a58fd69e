"""``make demo``: the whole flow on the local emulators, watched live, then reconciled.

A private local stack (free loopback ports, its own logs under ``.local/demo/``), two
supervised workers sharing a 4-shard stream, the producer at about 200 records/s with 5 %
unclean records for 90 s, the finalizer, a live table of aggregates (final windows marked),
rejects and shard leases, then a graceful stop and a reconciliation: produced = aggregated +
rejected, and per-vendor sums equal to the producer's.  Exit status 1 if anything differs.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from consumer_app.window_report import finality_lag_s, rows, wait_final
from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, finalizer, worker_env
from devkit.reconcile import Observed, reconcile
from producer.produce import Plan, produce
from producer.summary import Summary

console = Console(stderr=True)


class EventTail:
    """Latest per-shard counters from the workers' JSON logs (read incrementally)."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self.offsets: dict[Path, int] = {}
        self.shards: dict[str, dict[str, Any]] = {}
        self.fatal: list[str] = []

    def refresh(self) -> None:
        for w in self.workers:
            path = w.stderr_path
            try:
                with open(path, "rb") as f:
                    f.seek(self.offsets.get(path, 0))
                    data = f.read()
            except OSError:
                continue
            cut = data.rfind(b"\n") + 1
            self.offsets[path] = self.offsets.get(path, 0) + cut
            for raw in data[:cut].splitlines():
                if not raw.startswith(b"{"):
                    continue
                try:
                    ev = json.loads(raw)
                except ValueError:
                    continue
                if ev.get("event") == "fatal":
                    self.fatal.append(f"{w.name} {ev.get('shard')}: {ev.get('msg')}")
                if "shard" in ev and "records_in" in ev:
                    self.shards[ev["shard"]] = {**ev, "worker": w.name}


def _view(st: stack.Stack, app: str, summary: Summary, tail: EventTail, started: float,
          producing: bool) -> Group:
    ddb = st.client("dynamodb")
    aggs = inspect.scan_all(ddb, st.aggregates_table)
    rejects = Counter(it["reason"]["S"] for it in inspect.scan_all(
        ddb, st.rejects_table, ProjectionExpression="reason"))
    leases = inspect.leases(ddb, app)
    tail.refresh()

    head = Table.grid(padding=(0, 2))
    head.add_row(f"[b]{time.monotonic() - started:5.0f}s[/b]",
                 f"produced [b]{summary.sent:,}[/b] ({'running' if producing else 'done'})",
                 f"aggregated trips [b]{sum(int(i['trips']['N']) for i in aggs):,}[/b]",
                 f"rejected [b]{sum(rejects.values()):,}[/b]")

    t_aggs = Table(title="kinesisAggs (latest windows; final = will not change any more)", expand=False)
    for col in ("vendor", "window start (UTC)", "passenger", "trips", "state"):
        t_aggs.add_column(col, justify="right")
    for w in rows(aggs)[-8:]:  # sub-items of a window added up
        t_aggs.add_row(str(w.vendor_id), w.window_start, str(w.passenger), str(w.trips),
                       "[green]final[/green]" if w.final else "open")

    t_rej = Table(title="rejects by reason")
    t_rej.add_column("reason")
    t_rej.add_column("count", justify="right")
    for reason, n in sorted(rejects.items()):
        t_rej.add_row(reason, str(n))

    t_sh = Table(title="shards")
    for col in ("shard", "lease owner", "records", "ms behind", "checkpoint"):
        t_sh.add_column(col)
    for shard in sorted(set(leases) | set(tail.shards)):
        ev = tail.shards.get(shard, {})
        cp = leases.get(shard, {}).get("checkpoint", "-")
        t_sh.add_row(shard, leases.get(shard, {}).get("owner", "-"), str(ev.get("records_in", "-")),
                     str(ev.get("millis_behind_latest", "-")), cp[-12:] if cp.isdigit() else cp)
    return Group(head, t_aggs, t_rej, t_sh)


def main(args: argparse.Namespace) -> int:
    if args.workers < 1 or args.shards < 1 or args.duration <= 0 or args.rate <= 0:
        console.print("demo: --workers, --shards, --duration and --rate must be positive")
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up like Ctrl-C
    log_dir = Path(".local/demo") / time.strftime("%Y%m%d-%H%M%S")
    st = stack.private_stack(log_dir, shards=args.shards)
    app = f"demo-{int(time.time())}"  # a fresh lease table: no stale leader lock (docs/design.md#leases)
    console.print(f"demo: starting kinesis-local and moto (logs in {log_dir}/)")
    try:
        st.start()
    except Exception as exc:
        console.print(f"[red]demo: local backend failed: {exc}[/red]")
        st.stop()
        return 1
    env = worker_env(st.env(), app, STATS_INTERVAL_SECONDS="2", SHUTDOWN_GRACE_MILLIS="20000",
                     FINALIZE_INTERVAL_SECONDS="2")
    workers = [Worker(f"worker-{i + 1}", env, log_dir) for i in range(args.workers)]
    summary = Summary()
    failure: list[str] = []
    try:
        started = time.monotonic()  # the figure "after the workers started" counts from here
        with Supervisor([*workers, finalizer(env, log_dir)]) as sup:
            console.print(f"demo: {args.workers} workers (application {app}); producing "
                          f"{args.rate:g} records/s for {args.duration:g}s, "
                          f"{args.unclean_ratio:.0%} unclean")
            plan = Plan(st.stream, duration=args.duration, rate=args.rate,
                        unclean_ratio=args.unclean_ratio, seed=args.seed)
            kinesis = boto3.client("kinesis", endpoint_url=st.kinesis_url, region_name=stack.REGION,
                                   aws_access_key_id=stack.ACCESS_KEY,
                                   aws_secret_access_key=stack.SECRET_KEY,
                                   config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

            def producer_thread() -> None:
                try:
                    produce(plan, summary, kinesis)
                except Exception as exc:
                    failure.append(f"producer: {exc}")

            prod = threading.Thread(target=producer_thread, name="producer")
            prod.start()
            tail = EventTail(workers)
            drained = _watch(st, app, summary, tail, started, prod, sup.check)
            if not drained:
                _wait_final(st, app, summary, tail, started)
            codes = sup.stop_gracefully(timeout_s=40)
            console.print(f"demo: workers stopped (exit codes {codes}; 143 = stopped by SIGTERM "
                          "after the final checkpoints)")
            if tail.fatal:
                console.print("[yellow]demo: worker restarts after errors:[/yellow] "
                              + "; ".join(tail.fatal[:5]))
            if drained:
                failure.append(f"not drained: shards behind {drained}")
        ddb = st.client("dynamodb")
        obs = Observed.from_items(inspect.scan_all(ddb, st.aggregates_table),
                                  inspect.scan_all(ddb, st.rejects_table))
        result = reconcile(summary.to_json(), obs)
        _print_reconciliation(summary, obs, result)
        (log_dir / "producer-summary.json").write_text(json.dumps(summary.to_json(), indent=2))
        if failure:
            console.print("[red]demo: " + "; ".join(failure) + "[/red]")
        return 0 if result.ok and not failure else 1
    finally:
        st.stop()


def _wait_final(st: stack.Stack, app: str, summary: Summary, tail: EventTail, started: float,
                timeout_s: float = 20) -> None:
    """Idle for a moment: the windows before the latest one become final, and are shown so."""
    found = wait_final(st.client("dynamodb"), st.aggregates_table, but_latest=True, timeout_s=timeout_s)
    console.print(_view(st, app, summary, tail, started, False))
    lags = sorted(finality_lag_s(w) for w in found if w.final)
    if lags:
        console.print(f"demo: {len(lags)} of {len(found)} windows final, marked "
                      f"{lags[0]:.1f}-{lags[-1]:.1f} s after their end (median {lags[len(lags) // 2]:.1f} s)")


def _watch(st: stack.Stack, app: str, summary: Summary, tail: EventTail, started: float,
           prod: threading.Thread, check_workers: Callable[[], None]) -> dict[str, str]:
    """Show the live view until the producer is done and every shard is checkpointed.

    ``check_workers`` raises if a worker ended that nobody stopped (the demo then fails at
    once, naming it).  Until the first records are processed the lease table is polled
    every 0.1 s, so the start-up figure is exact to that.
    """
    ddb = st.client("dynamodb")
    deadline: float | None = None
    first_progress: float | None = None
    live_ok = console.is_terminal
    last_print = last_view = 0.0
    with Live(console=console, refresh_per_second=1, transient=False) if live_ok else _Null() as live:
        while True:
            check_workers()
            producing = prod.is_alive()
            if first_progress is None and any(map(inspect.started, inspect.leases(ddb, app).values())):
                first_progress = time.monotonic() - started
                console.print(f"demo: first records processed and checkpointed {first_progress:.1f}s "
                              "after the workers started")
            if time.monotonic() - last_view >= 1.0:  # the view scans every table: once a second
                last_view = time.monotonic()
                view = _view(st, app, summary, tail, started, producing)
                if live_ok:
                    live.update(view)
                elif time.monotonic() - last_print > 10:
                    last_print = time.monotonic()
                    console.print(view)
            if not producing:
                deadline = deadline or time.monotonic() + 180
                left = inspect.behind(ddb, app, summary.to_json())
                if not left or time.monotonic() > deadline:
                    if not live_ok:
                        console.print(_view(st, app, summary, tail, started, False))
                    return left
            time.sleep(0.1 if first_progress is None else 1.0)


class _Null:
    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *_: object) -> None:
        return None


def _print_reconciliation(summary: Summary, obs: Observed, result: Any) -> None:
    t = Table(title="reconciliation")
    for col in ("", "producer", "kinesisAggs / rejects", "difference"):
        t.add_column(col, justify="right")
    s = summary.to_json()
    t.add_row("records", str(result.produced), str(result.aggregated + result.rejected),
              str(result.difference))
    for v, exp in s["vendors"].items():
        vid = int(v)
        t.add_row(f"vendor {v} trips", str(exp["trips"]), str(obs.trips[vid]),
                  str(exp["trips"] - obs.trips[vid]))
        t.add_row(f"vendor {v} passenger", str(exp["passenger"]), str(obs.passenger[vid]),
                  str(exp["passenger"] - obs.passenger[vid]))
    for reason, n in s["unclean"]["byReason"].items():
        t.add_row(f"rejected {reason}", str(n), str(obs.rejects[reason]), str(n - obs.rejects[reason]))
    Console().print(t)
    if result.ok:
        Console().print(f"[green]RECONCILED: {result.produced} produced = {result.aggregated} "
                        f"aggregated + {result.rejected} rejected; difference 0[/green]")
    else:
        Console().print("[red]MISMATCH:[/red]\n  " + "\n  ".join(result.lines))
