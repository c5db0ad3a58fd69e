"""The bench's figures from log events: per-processor counters, lease moves, percentiles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.bench.latency import percentile
from tests.bench.scaling import lease_moves, throughput

T0 = 1_764_230_400.0


def ev(sec: float, event: str, shard: str, pid: int, records_in: int = 0,
       worker: str = "w1") -> dict[str, Any]:
    whole, frac = divmod(T0 + sec, 1)
    ts = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{int(frac * 1000):03d}Z"
    return {"ts": ts, "event": event, "shard": shard, "pid": pid, "records_in": records_in,
            "worker_name": worker, "millis_behind_latest": 0}


def test_a_lease_that_moves_away_and_back_never_counts_below_zero() -> None:
    events = [
        ev(0.1, "initialize", "s0", 10),
        ev(1.1, "counters", "s0", 10, 5000),
        ev(2.1, "counters", "s0", 10, 12000),
        ev(3.0, "initialize", "s0", 11, worker="w2"),  # moved to w2 ...
        ev(4.1, "counters", "s0", 11, 300, worker="w2"),
        ev(5.0, "initialize", "s0", 12),  # ... and back to w1: a new processor, counters from 0
        ev(6.1, "counters", "s0", 12, 400),
        ev(7.1, "counters", "s0", 12, 900),
    ]
    per_second, _ = throughput(events, T0)
    assert per_second == {1: 5000, 2: 7000, 4: 300, 6: 400, 7: 500}
    assert all(v >= 0 for v in per_second.values())
    assert lease_moves(events, T0) == [3.0, 5.0]


def test_percentile_nearest_rank() -> None:
    values = sorted(float(x) for x in range(1, 101))
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0 and percentile([2.0], 99) == 2.0
