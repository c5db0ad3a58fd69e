"""Fixtures for the tests that run the image: the engine, the image, a local stack, cleanup."""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.local import inspect, stack
from devkit.reconcile import Observed, reconcile
from producer.produce import Plan, produce
from producer.summary import Summary
from tests.container import engine

_names = itertools.count(1)


@pytest.fixture(scope="session")
def docker_engine() -> str:
    why = engine.why_not_available()
    if why:
        pytest.skip(why)
    return engine.DOCKER


@pytest.fixture(scope="session")
def image(docker_engine: str) -> Iterator[str]:
    """The runtime image, built from the repo's Dockerfile on the locally made base."""
    engine.ensure_base_image()
    engine.build(engine.IMAGE)
    yield engine.IMAGE
    left = engine.labelled()
    engine.remove(*left)
    assert not left, f"containers left by the tests: {left}"


@pytest.fixture
def containers() -> Iterator[list[engine.Container]]:
    """Containers a test starts; removed (with their logs kept) when it ends."""
    started: list[engine.Container] = []
    yield started
    engine.remove(*[c.name for c in started])


class Backend:
    """A private local stack (kinesis-local + moto on free loopback ports) for containers
    on the host network, with the producer's running summary and the exact check."""

    def __init__(self, st: stack.Stack, tmp: Path) -> None:
        self.stack = st
        self.tmp = tmp
        self.application = f"container-{os.getpid()}-{next(_names)}"
        self.summary = Summary()
        self.seed = itertools.count(11)
        self.ddb = st.client("dynamodb")

    def env(self, **extra: str) -> dict[str, str]:
        """What a user passes with `docker run -e` to use this stack (no WORKER_ID)."""
        return {**self.stack.env(), "APPLICATION_NAME": self.application, "STATS_INTERVAL_SECONDS": "2",
                **extra}

    def produce(self, count: int, unclean_ratio: float = 0.1) -> None:
        produce(Plan(self.stack.stream, count=count, seed=next(self.seed), unclean_ratio=unclean_ratio),
                self.summary, self.stack.client("kinesis"))

    def leases(self) -> dict[str, dict[str, str]]:
        return inspect.leases(self.ddb, self.application)

    def owners(self) -> Counter[str]:
        return inspect.owners(self.ddb, self.application)

    def wait_drained(self, timeout_s: float, check: Callable[[], None] | None = None) -> None:
        left = inspect.wait_drained(self.ddb, self.application, self.summary.to_json(), timeout_s,
                                    poll_s=0.5, check=check)
        assert left == {}, f"shards not checkpointed at their last record: {left}"

    def assert_exact(self) -> None:
        obs = Observed.from_items(inspect.scan_all(self.ddb, self.stack.aggregates_table),
                                  inspect.scan_all(self.ddb, self.stack.rejects_table))
        result = reconcile(self.summary.to_json(), obs)
        assert result.ok, "\n".join(result.lines)

    def wait_until(self, what: str, cond: Callable[[], Any], timeout_s: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if cond():
                return time.monotonic() - start
            time.sleep(0.25)
        raise AssertionError(f"not within {timeout_s} s: {what} (leases {self.leases()})")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    st = stack.private_stack(tmp_path / "emulators", shards=4)
    try:
        st.start()
        yield Backend(st, tmp_path)
    finally:
        st.stop()


def alive(*cs: engine.Container) -> Callable[[], None]:
    """A check for wait_drained: fail at once when a container stopped for good."""
    def check() -> None:
        for c in cs:
            state = c.state()
            if not state.get("Running") and not state.get("Restarting"):
                raise AssertionError(f"{c.name} exited {state.get('ExitCode')}:\n{c.logs()[-3000:]}")
    return check
