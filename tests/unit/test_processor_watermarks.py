"""The record processor's side of final windows: when it publishes its shard's watermark,
and what it does with records the writer refuses (docs/windows.md)."""

from __future__ import annotations

from typing import Any

from consumer_app import processor as proc
from consumer_app.rules.aggregation import AggregateKey, Contribution, Position
from consumer_app.rules.watermarks import FETCH_DEPTH
from consumer_app.settings import Settings
from tests.support.fakes import Clock, with_fakes
from tests.support.kcl import Input, Record, trip_record
from tests.support.trips import BASE_MS

MARGIN = 5000


def processor(interval_ms: int = 1000) -> tuple[proc.TripRecordProcessor, list[Any], Clock, Clock]:
    clock, wall, log = Clock(), Clock(BASE_MS / 1000 + 60), []
    p = proc.TripRecordProcessor(Settings(region="us-east-1", flush_interval_millis=interval_ms,
                                          watermark_margin_millis=MARGIN), clock=clock, wall=wall)
    return with_fakes(p, log), log, clock, wall


def batch(log: list[Any], *records: Record, behind: int = 1000) -> Input:
    return Input(log, list(records), behind=behind)


def test_the_watermark_is_published_after_the_checkpoint_with_the_vendors_written() -> None:
    p, log, clock, _ = processor()
    p.process_records(batch(log, trip_record(1), trip_record(2, vendor=2)))
    assert log == []  # pending: neither written nor published
    clock.now += 1.0
    p.process_records(batch(log))  # the interval is over: flush, checkpoint, publish
    assert log == [("checkpoint", "2", 0), ("watermark", BASE_MS - MARGIN, [1, 2], "2:0", False)]
    assert p.aggregates.claimed_through == BASE_MS - MARGIN  # the writer now knows the claim


def test_nothing_is_published_while_records_are_pending_or_more_often_than_the_interval() -> None:
    p, log, clock, wall = processor()
    p.process_records(batch(log, trip_record(1)))
    clock.now += 1.0
    p.process_records(batch(log))
    published = [e for e in log if e[0] == "watermark"]
    assert len(published) == 1
    for _ in range(FETCH_DEPTH + 2):  # idle polls at the tip: the candidate moves on ...
        wall.now += 0.25
        clock.now += 0.25
        p.process_records(batch(log, behind=0))
        if len([e for e in log if e[0] == "watermark"]) > 1:
            break
    # ... and is published again, at most once per interval, without another checkpoint
    events = [e for e in log if e[0] == "watermark"]
    assert len(events) == 2 and events[1][1] > events[0][1]
    assert [e for e in log if e[0] == "checkpoint"] == [("checkpoint", "1", 0)]
    p.process_records(batch(log, trip_record(2)))  # pending again: the idle rule may move the
    wall.now += 100                            # candidate, but nothing is published
    p.process_records(batch(log, behind=0))
    assert len([e for e in log if e[0] == "watermark"]) == 2


def test_shard_end_publishes_ended_before_the_shard_end_checkpoint() -> None:
    p, log, _, _ = processor(60_000)
    p.process_records(batch(log, trip_record(1)))
    p.shard_ended(Input(log))
    assert log == [("watermark", BASE_MS - MARGIN, [1], "1:0", True), ("checkpoint", None, None)]


def test_shutdown_publishes_after_the_final_checkpoint() -> None:
    p, log, _, _ = processor(60_000)
    p.process_records(batch(log, trip_record(1)))
    p.shutdown_requested(Input(log))
    assert [e[0] for e in log] == ["checkpoint", "watermark"]


def test_refused_records_are_dead_lettered_and_counted() -> None:
    p, log, clock, _ = processor()
    key = AggregateKey(1, BASE_MS)
    p.aggregates.refuse = [Contribution(key, [(Position(7), 3)])]  # type: ignore[attr-defined]
    p.process_records(batch(log, trip_record(7)))
    clock.now += 1.0
    p.process_records(batch(log))
    dead = p.rejects.calls[-1]
    assert [(r.position, r.reason) for r in dead] == [(Position(7), proc.WINDOW_FINAL)]
    assert "passengerCount 3" in dead[0].detail and p.counters.refused_final == 1
    assert log[0] == ("checkpoint", "7", 0)  # dead-lettered: durable, so checkpointed


def test_records_below_the_published_watermark_are_counted_late() -> None:
    p, log, _, _ = processor()
    p.watermark.saw_published(BASE_MS + 1)
    p.process_records(batch(log, trip_record(1), trip_record(2)))  # both arrived at BASE_MS
    assert p.counters.late_records == 2


def test_a_processor_that_only_saw_idle_polls_still_writes_its_final_report() -> None:
    """A lease taken after the stream was drained: nothing counted, yet the processor's end
    writes one EMF line (lag 0 from the idle polls), on every way a processor ends."""
    import io
    import json

    from consumer_app.metrics import BEHIND, Emitter

    for end in ("shutdown_requested", "lease_lost", "shard_ended"):
        p, log, _, _ = processor()
        out = io.StringIO()
        p.metrics = Emitter("app", "input_stream", "shardId-0", out=out)
        p.process_records(batch(log, behind=0))
        assert out.getvalue() == ""  # within the reporting interval: no periodic line yet
        getattr(p, end)(Input(log))
        (doc,) = [json.loads(line) for line in out.getvalue().splitlines()]
        assert doc["RecordsIn"] == 0 and doc[BEHIND] == 0, (end, doc)
