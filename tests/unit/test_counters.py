"""Per-shard counters and the rate limit on their log line."""

from __future__ import annotations

from consumer_app.counters import Reporter, ShardCounters


def test_snapshot_is_a_plain_dict():
    c = ShardCounters()
    c.records_in = 5
    c.rejected["not_json"] += 2
    snap = c.snapshot()
    assert snap["records_in"] == 5
    assert snap["rejected"] == {"not_json": 2} and type(snap["rejected"]) is dict
    assert snap["millis_behind_latest"] is None
    c.rejected["not_json"] += 1
    assert snap["rejected"] == {"not_json": 2}  # a copy


def test_reporter_at_most_once_per_interval():
    r = Reporter(30.0, now=100.0)
    assert [r.due(t) for t in (100.0, 129.9, 130.0, 131.0, 159.9, 160.0)] == [
        False, False, True, False, False, True]


def test_reporter_after_a_long_pause_waits_a_full_interval_again():
    r = Reporter(10.0, now=0.0)
    assert r.due(1000.0) is True
    assert r.due(1009.0) is False
    assert r.due(1010.0) is True
