"""Start-up: workers started together all come up, and KCL takes the bootstrapped lease table
as its own; a worker that ends by itself exits non-zero (docs/startup.md)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from consumer_app.dynamo import lease_table
from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, WorkerDied, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]

ROUNDS = 10
WORKERS = 4
#: Lines that mean KCL did not take the bootstrapped table as its own, or failed to start.
NOT_HONOURED = {
    "Lease table is still empty": "KCL waited on an empty lease table: it did not see the leases",
    "Creating Lease table GSI LeaseOwnerToLeaseKeyIndex": "KCL created the index itself",
    "Caught exception when initializing LeaseCoordinator": "an initialization attempt failed",
    "Unable to initialize after": "KCL gave up initializing",
    "NullPointerException": "a NullPointerException at start",
}


def _held_a_lease(w: Worker) -> bool:
    return any(e.get("event") == "initialize" for e in w.events())


def _daemon_log(w: Worker) -> str:
    return w.stdout_path.read_text(errors="replace")


def test_four_workers_started_together_all_take_leases_ten_times(tmp_path: Path) -> None:
    """The start-up race of KCL 3.5 (migration state, index) is gone, and every worker gets work."""
    for n in range(ROUNDS):
        log_dir = tmp_path / f"round-{n}"
        st = stack.private_stack(log_dir, shards=4)  # a fresh stack: empty lease table
        st.start()
        try:
            app = f"startup-{n}-{int(time.time())}"
            env = worker_env(st.env(), app)
            workers = [Worker(f"r{n}w{i}", env, log_dir, restart=False) for i in range(WORKERS)]
            with Supervisor(workers) as sup:
                deadline = time.monotonic() + 120
                while not all(map(_held_a_lease, workers)):
                    sup.check()  # a worker that gave up fails the round at once, by name
                    assert time.monotonic() < deadline, (
                        f"round {n}: workers without a lease after 120 s: "
                        f"{[w.name for w in workers if not _held_a_lease(w)]}; logs in {log_dir}")
                    time.sleep(0.25)
                print(f"round {n}: every worker held a lease after {time.monotonic() - deadline + 120:.1f} s")
                items = inspect.scan_all(st.client("dynamodb"), app)
            for w in workers:
                log = _daemon_log(w)
                found = {why for line, why in NOT_HONOURED.items() if line in log}
                assert not found, f"round {n}, {w.name}: {sorted(found)} (log {w.stdout_path})"
            _assert_kcl_kept_the_bootstrap(items, {w.name for w in workers}, n)
        finally:
            st.stop()


def _assert_kcl_kept_the_bootstrap(items: list[dict[str, Any]], workers: set[str], n: int) -> None:
    """KCL used the rows we wrote: one lease per shard, owned by our workers, migration state ours."""
    by_key = {it["leaseKey"]["S"]: it for it in items}
    leases = {k: v for k, v in by_key.items() if k.startswith("shardId-")}
    assert len(leases) == 4, f"round {n}: KCL made leases of its own: {sorted(leases)}"
    assert {v["leaseOwner"]["S"] for v in leases.values()} <= workers
    assert all(int(v["leaseCounter"]["N"]) > 0 for v in leases.values())  # renewed by KCL
    migration = by_key[lease_table.MIGRATION_KEY]
    assert migration["cv"]["S"] == lease_table.CLIENT_VERSION
    assert migration["mb"]["S"] in workers and migration["h"]["L"] == []  # never rewritten by KCL


def _properties_with(tmp_path: Path, **extra: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("base.properties", "local.properties", "logback.xml"):
        (tmp_path / name).write_text((ROOT / "properties" / name).read_text())
    with open(tmp_path / "local.properties", "a") as f:
        f.writelines(f"{k} = {v}\n" for k, v in extra.items())
    return tmp_path


def test_a_worker_whose_kcl_gives_up_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    """KCL's MultiLangDaemon exits 0 when its Scheduler gives up; ours must not."""
    st = stack.private_stack(tmp_path, shards=1)
    st.start()
    try:
        app = f"gives-up-{int(time.time())}"
        ddb = st.client("dynamodb")
        lease_table.ensure_table(ddb, app)
        # a migration state KCL cannot read: every initialization attempt fails
        ddb.put_item(TableName=app, Item={**lease_table.migration_item("someone", 0),
                                          "cv": {"S": "CLIENT_VERSION_FROM_THE_FUTURE"}})
        props = _properties_with(tmp_path / "props", schedulerInitializationBackoffTimeMillis="50")
        env = worker_env(st.env(), app, LEASE_BOOTSTRAP="off", KCL_PROPERTIES_DIR=str(props),
                         WORKER_ID="doomed", KCL_RUN_DIR=str(tmp_path / "run"))
        started = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "consumer_app", "run"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=180)
    finally:
        st.stop()
    out = r.stdout + r.stderr
    assert "Unable to initialize after 20 attempts" in out, out[-3000:]
    assert r.returncode == 1, f"exit {r.returncode} after {time.monotonic() - started:.0f} s"
    assert re.search(r"KCL worker ended without a stop request", out), out[-3000:]


def test_the_supervisor_names_a_worker_that_vanished(tmp_path: Path) -> None:
    """Fail fast: a worker that ends (even with 0) without being stopped is reported by name."""
    w = Worker("w-gone", {}, tmp_path, restart=False,
               command=[sys.executable, "-c", "import sys; print('worker: cannot start: no table', "
                        "file=sys.stderr); sys.exit(0)"])
    with Supervisor([w]) as sup:
        deadline = time.monotonic() + 30
        with pytest.raises(WorkerDied, match=r"w-gone exited with status 0 .*no table"):
            while time.monotonic() < deadline:
                sup.check()
                time.sleep(0.1)
