"""A shard whose writes cannot be made durable waits alone, and every callback's failure is explicit.

The record processor runs with fake writers and checkpointer (tests/support); what is real
is its own logic: the blocked loop, its backoff, the lease check, the exits it still takes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from amazon_kclpy.checkpoint_error import CheckpointError

from consumer_app import health
from consumer_app import processor as proc
from consumer_app.counters import ShardCounters
from consumer_app.dynamo.errors import WriteFailed
from consumer_app.metrics import BLOCKED, Emitter
from consumer_app.rules.retry import BLOCKED_MAX_DELAY_S, blocked_delay
from consumer_app.settings import Settings
from tests.support.fakes import Clock, Writer, with_fakes
from tests.support.kcl import Checkpointer, Input, trip_record

ME = "worker-1"


class FailingWriter(Writer):
    """A writer whose first ``failures`` calls fail as a spent retry budget does."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.tries = 0

    def write(self, items: list[Any]) -> Any:
        self.tries += 1
        if self.tries <= self.failures:
            raise WriteFailed("aggregates: fatal error: retrying cannot help (ValidationException)")
        return super().write(items)


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    codes: list[int] = []
    monkeypatch.setattr(proc.os, "_exit", codes.append)
    return codes


def blocked_processor(failures: int, owner: str | None = ME, **settings: Any) -> tuple[
        proc.TripRecordProcessor, FailingWriter, list[float], Clock]:
    clock = Clock()
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock.now += s

    p = with_fakes(proc.TripRecordProcessor(
        Settings(region="us-east-1", flush_interval_millis=0, worker_id=ME, **settings),
        clock=clock, sleep=sleep, lease_owner=lambda shard: owner))
    p.shard_id = "shardId-000000000001"
    p.aggregates = aggs = FailingWriter(failures)  # type: ignore[assignment]
    return p, aggs, sleeps, clock


def test_a_flush_that_cannot_be_made_durable_blocks_the_shard_until_the_same_payload_is_written(
        exits: list[int], caplog: pytest.LogCaptureFixture) -> None:
    p, aggs, sleeps, _ = blocked_processor(failures=3)
    log: list[Any] = []
    with caplog.at_level(logging.INFO, logger="consumer_app.processor"):
        p.process_records(Input(log, [trip_record(1), trip_record(2)]))
    assert exits == []  # the process stays: its lease, and every other shard, go on
    assert aggs.tries == 4 and len(aggs.calls) == 1 and sum(c.trips for c in aggs.calls[0]) == 2
    assert log == [("checkpoint", "2", 0)]  # checkpointed only once the payload was durable
    assert len(sleeps) == 3 and all(0.5 * 2**i <= s <= 2**i for i, s in enumerate(sleeps))
    blocked = [r for r in caplog.records if r.getMessage().startswith("shard blocked for")]
    assert [r.levelno for r in blocked] == [logging.ERROR] * 3
    assert "ValidationException" in blocked[0].getMessage()
    assert any("shard unblocked" in r.getMessage() for r in caplog.records)
    assert p.counters.blocked_tries == 3 and p.counters.blocked_seconds is None


def test_the_blocked_delay_doubles_to_its_cap_with_jitter_and_never_busy_loops() -> None:
    assert [blocked_delay(a, 0.999999) for a in (1, 2, 3)] == pytest.approx([1, 2, 4], rel=1e-5)
    assert blocked_delay(1, 0.0) == 0.5  # at least half the ceiling
    assert blocked_delay(10, 0.999999) == pytest.approx(BLOCKED_MAX_DELAY_S, rel=1e-5)
    assert blocked_delay(10_000, 0.0) == BLOCKED_MAX_DELAY_S / 2


def test_a_blocked_shard_reports_how_long_in_its_metric_and_its_heartbeat(
        tmp_path: Path, exits: list[int]) -> None:
    p, _, _, clock = blocked_processor(failures=2, heartbeat_dir=str(tmp_path))
    seen: list[tuple[float | None, str | None]] = []

    def sleep(s: float) -> None:  # look while the shard waits
        seen.append((p.counters.blocked_seconds,
                     health.read_beat(tmp_path / "shardId-000000000001.beat")[1]))
        clock.now += s

    p.sleep = sleep
    p.process_records(Input([], [trip_record(1)]))
    assert seen[0][0] == 0.0 and seen[1][0] is not None and seen[1][0] > 0
    assert seen[1][1] is not None and "ValidationException" in seen[1][1]
    assert health.read_beat(tmp_path / "shardId-000000000001.beat")[1] is None  # unblocked

    counters = ShardCounters(blocked_seconds=42.0)
    doc = Emitter("app", "stream", "shardId-000000000001").documents(counters)[0]
    assert doc[BLOCKED] == 42.0
    assert BLOCKED not in Emitter("app", "stream", "s").documents(ShardCounters(records_in=1))[0]


def test_a_blocked_shard_whose_lease_moved_stops_trying_and_checkpoints_nothing_more(
        exits: list[int]) -> None:
    p, aggs, sleeps, _ = blocked_processor(failures=10**9, owner="worker-2")
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1)]))
    assert aggs.tries == 1 and sleeps == [] and exits == [] and log == []
    p.process_records(Input(log, [trip_record(2)]))  # until KCL calls lease_lost
    p.shutdown_requested(Input(log))
    assert aggs.tries == 1 and log == [] and exits == []


def test_a_lease_table_that_cannot_be_read_keeps_the_shard_trying(exits: list[int]) -> None:
    p, aggs, sleeps, _ = blocked_processor(failures=2)

    def unreadable(shard: str) -> str | None:
        raise OSError("connection refused")

    p.lease_owner = unreadable
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1)]))
    assert aggs.tries == 3 and len(sleeps) == 2 and log == [("checkpoint", "1", 0)]


def test_a_blocked_shard_whose_daemon_is_gone_ends(exits: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    p, aggs, _, _ = blocked_processor(failures=10**9)
    monkeypatch.setattr(proc.os, "getppid", lambda: p.daemon_pid + 1)  # reparented
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1)]))
    assert exits == [proc.EXIT_DAEMON_GONE] and log == [] and aggs.tries == 1


class FlakyCheckpointer(Checkpointer):
    def __init__(self, log: list[Any], errors: list[str]) -> None:
        super().__init__(log)
        self.errors = errors

    def checkpoint(self, seq: str | None = None, sub: int | None = None) -> None:
        if self.errors:
            raise CheckpointError(self.errors.pop(0))
        super().checkpoint(seq, sub)


def test_a_checkpoint_failure_that_passes_is_tried_again_and_one_that_does_not_ends_the_process(
        exits: list[int]) -> None:
    p, _, sleeps, _ = blocked_processor(failures=0)
    log: list[Any] = []
    errors = ["KinesisClientLibDependencyException", "ThrottlingException"]
    p.process_records(Input(log, [trip_record(1)], checkpointer=FlakyCheckpointer(log, errors)))
    assert log == [("checkpoint", "1", 0)] and len(sleeps) == 2 and exits == []

    p.process_records(Input(log, [trip_record(2)],
                            checkpointer=FlakyCheckpointer(log, ["InvalidStateException"])))
    assert exits == [proc.EXIT_CHECKPOINT_FAILED] and log == [("checkpoint", "1", 0)]


def test_shard_end_waits_for_its_ended_watermark_and_then_checkpoints_once(exits: list[int]) -> None:
    p, _, sleeps, _ = blocked_processor(failures=0)
    published: list[Any] = []
    fails: list[WriteFailed] = []

    def publish(runner: Any, shard: str, mark: int | None, vendors: set[int], position: str,
                ended: bool = False) -> int | None:
        if fails:
            raise fails.pop()
        published.append(ended)
        return mark

    p.watermarks.publish = publish  # type: ignore[method-assign]
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1)]))
    fails.append(WriteFailed("watermarks: retry budget spent"))
    p.shard_ended(Input(log))
    assert exits == [] and len(sleeps) == 1 and published[-1] is True
    assert log[-1] == ("checkpoint", None, None) and log.count(("checkpoint", None, None)) == 1


def test_an_unexpected_failure_while_a_shard_ends_ends_the_process_before_shard_end(
        exits: list[int]) -> None:
    p, _, _, _ = blocked_processor(failures=0)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("a bug")

    p.watermarks.publish = broken  # type: ignore[method-assign]
    log: list[Any] = []
    p.shard_ended(Input(log))
    # no SHARD_END: after the restart the shard is read again from its checkpoint and ends again
    assert exits == [proc.EXIT_UNEXPECTED] and log == []


def test_a_heartbeat_that_cannot_be_written_does_not_stop_a_shard(tmp_path: Path, exits: list[int]) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    p, _, _, _ = blocked_processor(failures=0, heartbeat_dir=str(not_a_dir))
    log: list[Any] = []
    p.process_records(Input(log, [trip_record(1)]))
    p.shard_ended(Input(log))
    assert exits == [] and log == [("checkpoint", "1", 0), ("checkpoint", None, None)]


def test_the_health_report_names_a_blocked_shard_and_stays_healthy(tmp_path: Path) -> None:
    health.beat(tmp_path, "shardId-000000000003", "flush: ValidationException\nitem too large")
    assert health.read_beat(tmp_path / "shardId-000000000003.beat")[1] == \
        "flush: ValidationException item too large"
    ok, why = health.decide(True, [health.Beat("shardId-000000000003", True, 3.0, "flush: X"),
                                   health.Beat("shardId-000000000001", True, 1.0)], 60)
    assert ok and "1 blocked" in why and "shardId-000000000003 (flush: X)" in why
