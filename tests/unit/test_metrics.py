"""The processors' counters as EMF documents: valid per the specification, deltas that add up."""

from __future__ import annotations

import io
import json

from consumer_app.counters import ShardCounters
from consumer_app.metrics import BATCH_TIME, BEHIND, COUNTS, REJECTED, Emitter, is_emf, total
from tests.emf_spec import problems

SHARD = "shardId-000000000003"


def emitter(**kw: object) -> tuple[Emitter, io.StringIO]:
    out = io.StringIO()
    return Emitter("kinesis-aggs-consumer", "input_stream", SHARD, out=out, **kw), out  # type: ignore[arg-type]


def lines(out: io.StringIO) -> list[dict]:
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert out.getvalue().endswith("\n") and all(line.startswith("{") for line in out.getvalue().splitlines())
    return docs


def test_every_counter_is_a_metric_and_each_document_follows_the_spec() -> None:
    e, out = emitter()
    c = ShardCounters()
    for i, key in enumerate(COUNTS, 1):
        setattr(c, key, i)
    c.rejected.update({"not_json": 3, "bad_type": 1})
    e.observe_delivery(4000, 12.5)
    e.observe_delivery(1000, 3.0)
    assert e.emit(c) == 3
    docs = lines(out)
    assert all(problems(d) == [] for d in docs), [problems(d) for d in docs]
    main = docs[0]
    want = {name: i for i, name in enumerate(COUNTS.values(), 1)}
    assert {name: main[name] for name in COUNTS.values()} == want
    assert main[BEHIND] == 4000 and main[BATCH_TIME] == [12.5, 3.0]
    directive = main["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "kinesis-aggs-consumer" and directive["Dimensions"] == [["Stream"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units[BEHIND] == "Milliseconds" and units["RecordsIn"] == "Count"
    rejected = {d["Reason"]: d[REJECTED] for d in docs[1:]}
    assert rejected == {"bad_type": 1, "not_json": 3}
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stream", "Reason"]] for d in docs[1:])
    assert all("ShardId" not in d for d in docs)  # no shard id unless asked


def test_reports_are_deltas_and_sum_to_the_counters() -> None:
    e, out = emitter()
    c = ShardCounters()
    totals = {"RecordsIn": 0, "not_json": 0}
    for step in range(1, 6):
        c.records_in += step * 10
        if step % 2:
            c.rejected["not_json"] += step
        e.emit(c)
    assert e.emit(c) == 0  # nothing new: no document
    for d in lines(out):
        totals["RecordsIn"] += d.get("RecordsIn", 0)
        totals["not_json"] += d.get(REJECTED, 0)
    assert totals == {"RecordsIn": c.records_in, "not_json": c.rejected["not_json"]}
    # what the chaos harness and the bench read back: the same sums, other log lines ignored
    assert total([*lines(out), {"event": "counters", "records_in": 999}], "records_in") == c.records_in


def test_an_idle_poll_reports_its_lag_and_a_final_report_is_never_empty() -> None:
    e, out = emitter()
    c = ShardCounters()
    assert e.emit(c) == 0  # nothing delivered, nothing counted: no periodic line
    e.observe_delivery(0, None)  # an idle poll at the tip: lag 0, no batch time
    assert e.emit(c) == 1
    (idle,) = lines(out)
    assert idle[BEHIND] == 0 and BATCH_TIME not in idle and "RecordsIn" not in idle
    out.truncate(0), out.seek(0)
    assert e.emit(c, final=True) == 1  # the processor ends having counted nothing new
    (last,) = lines(out)
    assert last["RecordsIn"] == 0 and problems(last) == []
    c.records_in = 7
    out.truncate(0), out.seek(0)
    assert e.emit(c, final=True) == 1 and lines(out)[0]["RecordsIn"] == 7


def test_the_shard_dimension_is_a_setting() -> None:
    e, out = emitter(with_shard=True)
    c = ShardCounters(records_in=5)
    e.emit(c)
    (doc,) = lines(out)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stream"], ["Stream", "ShardId"]]
    assert doc["ShardId"] == SHARD and problems(doc) == []


def test_more_than_100_batch_times_are_split_over_documents() -> None:
    e, out = emitter()
    for i in range(250):
        e.observe_delivery(None, float(i))
    e.emit(ShardCounters(records_in=1))
    docs = lines(out)
    values = [v for d in docs for v in (d.get(BATCH_TIME) or [])]
    assert sorted(values) == [float(i) for i in range(250)]
    assert all(problems(d) == [] for d in docs) and len(docs) == 3


def test_the_checker_can_fail() -> None:
    e, out = emitter()
    e.emit(ShardCounters(records_in=1))
    (doc,) = lines(out)
    assert is_emf(doc)
    broken = json.loads(json.dumps(doc))
    broken["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Records"
    del broken["Stream"]
    assert len(problems(broken)) == 2
    assert problems({"RecordsIn": 1}) == ["no _aws metadata object"]


def test_the_finalizer_reports_windows_finalized_and_the_watermark_lag() -> None:
    import time

    from consumer_app.finality import PassResult, Progress, _report
    from consumer_app.rules.watermarks import PublishedWatermark
    from consumer_app.settings import Settings

    now_ms = int(time.time() * 1000)
    progress = Progress(["s0", "s1"], {"s0": PublishedWatermark(now_ms - 12_000),
                                       "s1": PublishedWatermark(now_ms - 9_000)},
                        {1, 2}, now_ms - 12_000, None)
    out = io.StringIO()
    s = Settings(region="us-east-1", application_name="app-x", stream_name="trips")
    waiting = _report(PassResult(progress, now_ms - 30_000, 3), s, out, ["s1"])
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert waiting == [] and len(docs) == 1 and problems(docs[0]) == []
    doc = docs[0]
    assert doc["WindowsFinalized"] == 3 and 12 <= doc["GlobalWatermarkLag"] < 13
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "app-x" and doc["Stream"] == "trips"
    blocked = Progress(["s0", "s1"], {"s0": PublishedWatermark(now_ms)}, set(), None, None)
    out = io.StringIO()
    assert _report(PassResult(blocked, None, 0), s, out, []) == ["s1"]
    assert "GlobalWatermarkLag" not in json.loads(out.getvalue())  # no lag while a shard has none
