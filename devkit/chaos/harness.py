"""What every scenario needs: a private stack, a DynamoDB fault proxy, supervised workers,
a seeded producer, progress tracking from the lease table, and the final accounting.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from consumer_app import metrics
from consumer_app.tables import decode_aggregate
from consumer_app.window_report import rows
from devkit.local import inspect, stack
from devkit.local.fault_proxy import FaultProxy
from devkit.local.tcp_proxy import TcpProxy
from devkit.local.workers import Supervisor, Worker, finalizer, worker_env
from devkit.reconcile import Observed, reconcile
from producer.produce import Plan, produce
from producer.summary import Summary


@dataclass
class Result:
    scenario: str
    produced: int = 0
    aggregated: int = 0
    rejected: int = 0
    lost: int = 0
    counted_twice: int = 0
    recovery_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No problem found, nothing lost, nothing counted twice (derived, so never stale)."""
        return not self.problems and self.lost == 0 and self.counted_twice == 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def account(result: Result, expected: dict[str, Any], obs: Observed) -> None:
    """Fill produced/aggregated/rejected/lost/counted_twice from a summary and the tables."""
    rec = reconcile(expected, obs)
    result.produced, result.aggregated, result.rejected = rec.produced, rec.aggregated, rec.rejected
    lost = twice = 0
    for v, want in expected["vendors"].items():
        d = want["trips"] - obs.trips[int(v)]
        lost, twice = lost + max(d, 0), twice + max(-d, 0)
    for v in set(obs.trips) - {int(v) for v in expected["vendors"]}:
        twice += obs.trips[v]
    want_rejects = Counter(expected["unclean"]["byReason"])
    for reason in set(want_rejects) | set(obs.rejects):
        d = want_rejects[reason] - obs.rejects[reason]
        lost, twice = lost + max(d, 0), twice + max(-d, 0)
    result.lost, result.counted_twice = lost, twice
    result.problems += rec.lines


class Gaps:
    """The longest time each shard's checkpoint stood still, sampled from the lease table.

    While records keep arriving on every shard (a steady producer), a checkpoint that does
    not move is a shard without a processed record: the hand-off gap of a restart.
    """

    def __init__(self, leases: Callable[[], dict[str, dict[str, str]]], poll_s: float = 0.25) -> None:
        self._leases, self._poll_s = leases, poll_s
        self.longest: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gaps", daemon=True)

    def _loop(self) -> None:
        last: dict[str, tuple[str, float]] = {}
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                current = self._leases()
            except Exception:  # a poll that fails counts as no observation
                current = {}
            for shard, v in current.items():
                cp, since = last.get(shard, (v["checkpoint"], now))
                if v["checkpoint"] != cp:
                    since = now
                last[shard] = (v["checkpoint"], since)
                self.longest[shard] = max(self.longest.get(shard, 0.0), now - since)
            self._stop.wait(self._poll_s)

    def __enter__(self) -> Gaps:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    @property
    def worst(self) -> tuple[str, float]:
        return max(self.longest.items(), key=lambda kv: kv[1]) if self.longest else ("-", 0.0)


class Run:
    """One scenario's world; use as a context manager (everything stops at the end)."""

    def __init__(self, name: str, log_root: Path, shards: int, workers: int,
                 env_extra: dict[str, str] | None = None, persist: bool = False) -> None:
        self.name = name
        self.log_dir = log_root / name
        self.stack = stack.private_stack(self.log_dir, shards=shards)
        self.persist = persist
        self.app = f"chaos-{name}-{int(time.time())}"
        self.initial_workers = workers
        # 10 s windows and a finalizer pass a second: windows become final while the
        # scenario's faults happen, so that a wrong finalization would show (check_finality)
        self.env_extra = {"STATS_INTERVAL_SECONDS": "2", "SHUTDOWN_GRACE_MILLIS": "10000",
                          "WINDOW_SECONDS": "10", "FINALIZE_INTERVAL_SECONDS": "1",
                          **(env_extra or {})}
        self.workers: list[Worker] = []
        self.summary = Summary()
        self.producer_errors: list[str] = []
        self._producers: list[threading.Thread] = []
        self.proxy: FaultProxy | None = None
        self.kinesis_proxy: TcpProxy | None = None  # with persistence: cut before a restart
        self.sup: Supervisor | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> Run:
        self.stack.start(persist=self.persist)
        self.proxy = FaultProxy(self.stack.dynamodb_port).start()
        base = {**self.stack.env(), "AWS_ENDPOINT_URL_DYNAMODB": self.proxy.url}
        if self.persist:
            self.kinesis_proxy = TcpProxy(self.stack.kinesis_port).start()
            base["AWS_ENDPOINT_URL_KINESIS"] = self.kinesis_proxy.url
        self.env = worker_env(base, self.app, **self.env_extra)
        self.workers = [self._worker(i + 1) for i in range(self.initial_workers)]
        self.sup = Supervisor(self.workers).__enter__()
        self.sup.add(finalizer(self.env, self.log_dir))  # not one of self.workers
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self._producers:
            t.join(600)
        if self.sup is not None:
            self.sup.__exit__(*exc)
        if self.proxy is not None:
            self.proxy.stop()
        if self.kinesis_proxy is not None:
            self.kinesis_proxy.stop()
        self.stack.stop()

    def _worker(self, n: int) -> Worker:
        return Worker(f"w{n}", dict(self.env), self.log_dir)

    def add_worker(self) -> Worker:
        assert self.sup is not None
        w = self._worker(len(self.workers) + 1)
        self.workers.append(w)
        self.sup.add(w)
        return w

    # -- producing ----------------------------------------------------------------------
    def produce(self, count: int, rate: float | None, unclean_ratio: float = 0.05, seed: int = 1,
                background: bool = True) -> threading.Thread | None:
        plan = Plan(self.stack.stream, count=count, rate=rate or None, unclean_ratio=unclean_ratio,
                    seed=seed)
        kinesis = self.stack.client("kinesis", self.env["AWS_ENDPOINT_URL_KINESIS"])

        def go() -> None:
            try:
                produce(plan, self.summary, kinesis)
            except Exception as exc:
                self.producer_errors.append(f"{type(exc).__name__}: {exc}")

        if not background:
            go()
            return None
        t = threading.Thread(target=go, name=f"producer-{self.name}")
        t.start()
        self._producers.append(t)
        return t

    def start_processing(self, result: Result, count: int, rate: float | None, seed: int = 1,
                         problem: str = "shards not all processing before the fault") -> float | None:
        """Produce ``count`` records in the background and wait (180 s at most) until every
        shard is leased and checkpointed past its start: the moment a fault may come.

        Returns the seconds it took; a timeout is recorded in ``result`` as ``problem``.
        """
        self.produce(count, rate, seed=seed)
        took = self.wait_until(self.all_processing, 180)
        if took is None:
            result.problems.append(problem)
        return took

    def wait_producers(self, timeout_s: float = 900) -> None:
        for t in self._producers:
            t.join(timeout_s)

    def restart_kinesis(self) -> dict[str, Any]:
        """Take kinesis-local down and up again under the workers and the producer.

        Their connections are cut first, as an outage would: kinesis-local writes its
        snapshot only once its HTTP/2 clients are gone (docs/chaos.md#restarting-kinesis-local-under-load),
        so stopping it under connected workers killed it with acknowledged records unsaved.
        """
        assert self.kinesis_proxy is not None, "restart_kinesis needs a Run with persist=True"
        start = time.monotonic()
        cut = self.kinesis_proxy.cut()
        graceful = self.stack.restart_kinesis(Path(self.stack.log_dir) / "kinesis-local-restarted.log")
        self.kinesis_proxy.restore()
        return {"restart_s": round(time.monotonic() - start, 1), "connections_cut": cut,
                "stopped_on_sigterm": graceful}

    # -- observing ----------------------------------------------------------------------
    def leases(self) -> dict[str, dict[str, str]]:
        return inspect.leases(self.stack.client("dynamodb"), self.app)

    def all_processing(self) -> bool:
        """Every shard of the stream leased and checkpointed past TRIM_HORIZON."""
        leases = self.leases()
        return len(leases) >= self.stack.shards and all(
            inspect.owned(v) and inspect.started(v) for v in leases.values())

    def leader(self) -> str | None:
        """The worker holding KCL's leader lock (a row of the lease table in KCL 3.5)."""
        try:
            rows = inspect.scan_all(self.stack.client("dynamodb"), self.app)
        except Exception:
            return None
        for it in rows:
            if it.get("key", {}).get("S") == "Leader" or it.get("leaseKey", {}).get("S") == "Leader":
                owner = it.get("ownerName") or it.get("leaseOwner")
                return owner.get("S") if owner else None
        return None

    def owners(self) -> Counter[str]:
        return inspect.owners(self.stack.client("dynamodb"), self.app)

    def balanced(self, workers: int) -> bool:
        """Every one of ``workers`` workers holds leases, and their counts differ by 1 at most."""
        c = self.owners()
        return len(c) == workers and max(c.values()) - min(c.values()) <= 1

    def check_workers(self) -> None:
        """Fail the scenario at once if a worker ended that no one stopped (WorkerDied)."""
        if self.sup is not None:
            self.sup.check()

    def wait_until(self, pred: Callable[[], bool], timeout_s: float, poll_s: float = 0.5) -> float | None:
        """Seconds until ``pred()`` held, or None after the timeout; WorkerDied if a worker vanished."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            self.check_workers()
            if pred():
                return time.monotonic() - start
            time.sleep(poll_s)
        return None

    def time_to_progress(self, shards: set[str] | None, timeout_s: float,
                         not_owner: str | None = None) -> float | None:
        """Seconds until a checkpoint of ``shards`` (all if None) moves past where it is now."""
        before = {s: v["checkpoint"] for s, v in self.leases().items()}

        def moved() -> bool:
            now = self.leases()
            return any(v["checkpoint"] != before.get(s) and (not_owner is None or v["owner"] != not_owner)
                       for s, v in now.items() if shards is None or s in shards)

        return self.wait_until(moved, timeout_s)

    def settle(self, timeout_s: float) -> dict[str, str]:
        """Wait for the producers, then for every shard to be checkpointed at its last record."""
        self.wait_producers()
        return inspect.wait_drained(self.stack.client("dynamodb"), self.app, self.summary.to_json(),
                                    timeout_s=timeout_s, poll_s=1.0, check=self.check_workers)

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        out = []
        for w in self.workers:
            for ev in w.events():
                if event is None or ev.get("event") == event:
                    out.append({**ev, "worker_name": w.name})
        return out

    def counters_total(self, key: str) -> int:
        """Sum over every record processor of a counter, as the EMF metrics report it: the
        scenarios read the figures an operator sees in CloudWatch (consumer_app/metrics.py)."""
        return metrics.total((doc for w in self.workers for doc in w.events()), key)

    def observed(self) -> Observed:
        ddb = self.stack.client("dynamodb")
        return Observed.from_items(inspect.scan_all(ddb, self.stack.aggregates_table),
                                   inspect.scan_all(ddb, self.stack.rejects_table))

    def finish(self, result: Result, settle_timeout_s: float = 300,
               expected: dict[str, Any] | None = None) -> Result:
        behind = self.settle(settle_timeout_s)
        if behind:
            result.problems.append(f"not drained: {behind}")
        if self.producer_errors:
            result.problems.append("producer: " + "; ".join(self.producer_errors))
        account(result, expected or self.summary.to_json(), self.observed())
        self.check_finality(result)
        return result

    def check_finality(self, result: Result) -> None:
        """No item changed after it was finalized, and no record was refused for it
        (docs/windows.md); the details say how many windows were final at the end."""
        items = inspect.scan_all(self.stack.client("dynamodb"), self.stack.aggregates_table)
        changed = [f"{a.vendor_id}/{a.sort_key}" for a in map(decode_aggregate, items)
                   if a.final_at is not None and (a.updated_at or "") > a.final_at]
        if changed:
            result.problems.append(f"updated after they were final: {', '.join(changed[:5])}")
        refused = self.counters_total("refused_final")
        if refused:
            result.problems.append(f"{refused} records refused because their window was final")
        windows = rows(items)
        result.details["final_windows"] = f"{sum(w.final for w in windows)}/{len(windows)}"
