"""Build the JVM's class-data archive for the worker (``make setup``; docs/startup.md).

A KCL worker's JVM loads and verifies about 9,000 classes before its first lease (the AWS
SDK, Netty, KCL); with two workers starting on two cores that took about 1 s of the
start-up.  A CDS archive (``-Xshare``) holds those classes already parsed and verified.
It is made in two steps, once per machine and jar set:

1. a training start: one real worker on a private local stack, with
   ``-XX:DumpLoadedClassList``, until every shard has been processed, then SIGTERM;
2. ``java -Xshare:dump`` of that class list for exactly the worker's classpath.

The worker uses the archive when it exists (``consumer_app.worker.java_command``); a JVM
that cannot map it (another JDK, other jars) starts without it, as before.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from consumer_app import worker
from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, worker_env
from producer.produce import Plan, produce
from producer.summary import Summary


def train(class_list: Path, log_dir: Path, timeout_s: float = 180) -> None:
    """One worker's start, its first batches and its graceful stop, recording the classes."""
    st = stack.private_stack(log_dir, shards=2)
    st.start()
    try:
        produce(Plan(st.stream, count=200, unclean_ratio=0.05, seed=1), Summary(), st.client("kinesis"))
        app = f"class-archive-{int(time.time())}"
        opts = " ".join(worker.java_options("local"))
        env = worker_env(st.env(), app, JAVA_OPTS=f"{opts} -XX:DumpLoadedClassList={class_list}",
                         KCL_CDS_ARCHIVE="")
        w = Worker("trainer", env, log_dir, restart=False)
        with Supervisor([w]) as sup:
            ddb = st.client("dynamodb")
            deadline = time.monotonic() + timeout_s
            while True:
                sup.check()
                leases = inspect.leases(ddb, app)
                if len(leases) == st.shards and all(map(inspect.started, leases.values())):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"training worker did not process every shard in {timeout_s:.0f} s "
                                       f"(logs: {log_dir})")
                time.sleep(0.2)
            sup.stop_gracefully(timeout_s=60)
    finally:
        st.stop()
    if not class_list.is_file():
        raise RuntimeError(f"the training JVM wrote no class list (logs: {log_dir})")


def dump(class_list: Path, archive: Path) -> None:
    java = worker.java_binary()
    tmp = archive.with_suffix(".tmp")
    r = subprocess.run([java, "-Xshare:dump", f"-XX:SharedClassListFile={class_list}",
                        f"-XX:SharedArchiveFile={tmp}", "-Xlog:cds=error", "-cp", worker.classpath()],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0 or not tmp.is_file():
        raise RuntimeError(f"java -Xshare:dump failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
    tmp.replace(archive)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devkit.local.class_archive")
    p.add_argument("--out", type=Path, default=worker.class_archive())
    args = p.parse_args(argv)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="class-archive-") as tmp:
        class_list = Path(tmp) / "classes.lst"
        try:
            train(class_list, Path(tmp) / "logs")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            dump(class_list, args.out)
        except Exception as exc:
            sys.stderr.write(f"class archive: not built ({type(exc).__name__}: {exc}); workers start "
                             "without it, about 1 s slower\n")
            return 1
    size_mb = args.out.stat().st_size / 1e6
    sys.stderr.write(f"class archive: {args.out} ({size_mb:.0f} MB) in {time.monotonic() - start:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
