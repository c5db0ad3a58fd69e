"""Figures of the image on the real engine (printed, not asserted): `make bench-image`.

Image and layer sizes; a cold (--no-cache) and a warm build; for `docker run` on the host
network against a private local stack: the time to Docker's first "healthy" and to the
first processed record; `docker stop`; the memory of a worker holding 2 and then 4 shards.
Run it alone: on 2 cores, anything beside it is measured too.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from devkit.local import inspect, stack
from producer.produce import Plan, produce
from producer.summary import Summary
from tests.container import engine

TAG = "kinesis-aggs-consumer:bench"
UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def mem_bytes(usage: str) -> float:
    value, unit = re.match(r"([\d.]+)\s*([A-Za-z]+)", usage.split("/")[0].strip()).groups()  # type: ignore[union-attr]
    return float(value) * UNITS[unit]


def memory(c: engine.Container) -> float:
    return mem_bytes(engine.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", c.name).stdout)


def builds() -> None:
    engine.ensure_base_image()
    print(f"base {engine.BASE_IMAGE}: {mb(engine.image_size(engine.BASE_IMAGE))}")
    # cold: an empty build cache, so every package is downloaded again (the cache mounts
    # of pip, Maven and npm too)
    engine.docker("builder", "prune", "-af", timeout=600)
    cold = engine.build(TAG, no_cache=True)
    warm = engine.build(TAG)
    print(f"build: cold (empty build cache) {cold:.1f} s, warm (no change) {warm:.1f} s")
    print(f"image {TAG}: {mb(engine.image_size(TAG))} (docker image inspect .Size)")
    print("layers (docker history), oldest first:")
    for size, created in reversed(engine.layers(TAG)):
        if size:
            print(f"  {mb(size):>10}  {created[:90]}")


def runs(records: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        st = stack.private_stack(Path(tmp), shards=4)
        st.start()
        names: list[str] = []
        try:
            ddb = st.client("dynamodb")
            app = f"bench-image-{int(time.time())}"
            env = {**st.env(), "APPLICATION_NAME": app, "SHUTDOWN_GRACE_MILLIS": "20000"}
            produce(Plan(st.stream, count=records, seed=3), Summary(), st.client("kinesis"))

            def produce_and_drain(seed: int) -> None:
                """More records, then wait until the workers have checkpointed them all."""
                summary = Summary()
                produce(Plan(st.stream, count=records, seed=seed), summary, st.client("kinesis"))
                inspect.wait_drained(ddb, app, summary.to_json(), 180)

            a = engine.run("bench-kcl-a", "--network", "host", env=env, image=TAG)
            names.append(a.name)
            first = None
            while first is None:
                if any(map(inspect.started, inspect.leases(ddb, app).values())):
                    first = time.monotonic() - a.started
                time.sleep(0.1)
            healthy = a.wait_health("healthy", 180)
            print(f"docker run -> first record processed and checkpointed: {first:.1f} s; "
                  f"-> Docker reports healthy: {healthy:.1f} s (HEALTHCHECK interval 10 s)")
            b = engine.run("bench-kcl-b", "--network", "host", env=env, image=TAG)
            names.append(b.name)
            b.wait_health("healthy", 180)
            deadline = time.monotonic() + 120
            while sorted(inspect.owners(ddb, app).values()) != [2, 2] and time.monotonic() < deadline:
                time.sleep(0.5)
            produce_and_drain(seed=4)
            print(f"memory, 2 shards each: {mb(memory(a))} and {mb(memory(b))} (docker stats)")
            took = b.stop(30)
            print(f"docker stop -t 30 (2 shards): {took:.1f} s, exit {b.state()['ExitCode']}")
            deadline = time.monotonic() + 120
            while list(inspect.owners(ddb, app).values()) != [4] and time.monotonic() < deadline:
                time.sleep(0.5)
            produce_and_drain(seed=5)
            print(f"memory, 4 shards: {mb(memory(a))} (docker stats)")
            took = a.stop(30)
            print(f"docker stop -t 30 (4 shards): {took:.1f} s, exit {a.state()['ExitCode']}")
        finally:
            engine.remove(*names)
            st.stop()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.bench.image")
    p.add_argument("--records", type=int, default=2000, help="records per batch")
    p.add_argument("--skip-builds", action="store_true")
    args = p.parse_args()
    why = engine.why_not_available()
    if why:
        raise SystemExit(f"bench-image: {why}")
    if args.skip_builds:
        engine.build(TAG)
    else:
        builds()
    runs(args.records)


if __name__ == "__main__":
    main()
