"""End to end with the real MultiLangDaemon: 4 shards, 2 workers, 20,000 records, 5 % unclean,
and the finalizer: every window becomes final, and the final totals are the producer's."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer_app.window_report import wait_final
from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, finalizer, worker_env
from devkit.reconcile import Observed, reconcile
from producer.produce import Plan, produce
from producer.summary import Summary

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

RECORDS = 20_000


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[stack.Stack]:
    with stack.running(tmp_path, shards=4) as st:
        yield st


def test_two_workers_count_every_record_exactly_once(local_stack: stack.Stack, tmp_path: Path) -> None:
    st = local_stack
    app = f"e2e-{int(time.time())}"
    env = worker_env(st.env(), app, STATS_INTERVAL_SECONDS="5", WINDOW_SECONDS="10",
                     FINALIZE_INTERVAL_SECONDS="1")
    workers = [Worker(f"w{i}", env, tmp_path, restart=False) for i in (1, 2)]
    summary = Summary()
    errors: list[BaseException] = []
    plan = Plan(st.stream, count=RECORDS, unclean_ratio=0.05, seed=7)
    kinesis = st.client("kinesis")

    def send() -> None:
        try:
            produce(plan, summary, kinesis)
        except BaseException as exc:
            errors.append(exc)

    with Supervisor([*workers, finalizer(env, tmp_path)]) as sup:
        producer = threading.Thread(target=send)
        producer.start()
        deadline = time.monotonic() + 300
        while producer.is_alive() and time.monotonic() < deadline:
            sup.check()  # a worker that died fails the test now, by name, not at a timeout
            producer.join(1)
        assert not errors and summary.sent == RECORDS
        ddb = st.client("dynamodb")
        behind = inspect.wait_drained(ddb, app, summary.to_json(), timeout_s=300, check=sup.check)
        # idle now: every window but the latest becomes final, then the latest one too
        early = wait_final(ddb, st.aggregates_table, but_latest=True, timeout_s=60)
        windows = wait_final(ddb, st.aggregates_table, but_latest=False, timeout_s=60)
        crashed = {w.name: w.exits for w in workers if w.exits}
        codes = sup.stop_gracefully(timeout_s=60)

    assert not crashed, f"workers exited early: {crashed}; logs in {tmp_path}"
    assert behind == {}, f"checkpoints did not reach the end of: {behind}"
    assert set(codes.values()) <= {0, 143}, codes  # 143: SIGTERM, after the final checkpoints

    obs = Observed.from_items(inspect.scan_all(ddb, st.aggregates_table),
                              inspect.scan_all(ddb, st.rejects_table))
    result = reconcile(summary.to_json(), obs)
    assert result.ok, result.lines
    assert result.aggregated == summary.clean and result.rejected == RECORDS - summary.clean == 1000
    assert obs.rejects == Counter(summary.unclean)

    assert not [r for r in early if not r.final and r.window_start != early[-1].window_start], early
    assert len({r.window_start for r in windows}) >= 2 and all(r.final for r in windows), windows
    for v, truth in summary.to_json()["vendors"].items():  # the final windows add up to the truth
        final = [r for r in windows if r.vendor_id == int(v) and r.final]
        assert (sum(r.trips for r in final), sum(r.passenger for r in final)) == (truth["trips"],
                                                                                truth["passenger"])
    assert all(r.updated_at is not None and r.final_at is not None and r.updated_at < r.final_at
               for r in windows)

    holders = {w.name: {e["shard"] for e in w.events() if e.get("event") == "initialize"} for w in workers}
    assert all(holders.values()), f"a worker never held a lease: {holders}"
    assert set().union(*holders.values()) == set(summary.shards)
    for w in workers:  # graceful stop: every held shard was checkpointed on shutdown_requested
        assert any(e.get("event") == "shutdown_requested" for e in w.events()), w.name

