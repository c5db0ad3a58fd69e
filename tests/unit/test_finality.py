"""The finalizer's pieces that need no server: the progress read that ``windows`` shares, and
the EMF context its metrics take (consumer_app/finality.py, consumer_app/metrics.py)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

from consumer_app.counters import ShardCounters
from consumer_app.finality import read_progress
from consumer_app.metrics import Emitter, emf_lines, stream_context


class FakeKinesis:
    """ListShards through a paginator, as boto3 gives it."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_paginator(self, op: str) -> FakeKinesis:
        self.op = op
        return self

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((self.op, kwargs))
        return self.pages


class FakeStore:
    def __init__(self, marks: dict[str, Any], vendors: set[int], through: int | None) -> None:
        self.result = (marks, vendors, through)

    def scan(self) -> tuple[dict[str, Any], set[int], int | None]:
        return self.result


def mark(watermark_ms: int | None, ended: bool = False) -> SimpleNamespace:
    return SimpleNamespace(watermark_ms=watermark_ms, ended=ended)


def test_read_progress_lists_every_page_of_shards_and_holds_back_on_a_shard_without_a_mark() -> None:
    pages = [{"Shards": [{"ShardId": "s0"}]}, {"Shards": [{"ShardId": "s1"}, {"ShardId": "s2"}]}, {}]
    kinesis = FakeKinesis(pages)
    marks = {"s0": mark(5000), "s1": mark(3000)}
    p = read_progress(kinesis, "trips", FakeStore(marks, {1, 2}, 1000))  # type: ignore[arg-type]
    assert kinesis.calls == [("list_shards", {"StreamName": "trips"})]
    assert (p.shards, p.vendors, p.through_ms) == (["s0", "s1", "s2"], {1, 2}, 1000)
    assert (p.global_ms, p.waiting_for) == (None, ["s2"])


def test_read_progress_global_watermark_over_the_shards_that_can_still_add() -> None:
    kinesis = FakeKinesis([{"Shards": [{"ShardId": "s0"}, {"ShardId": "s1"}, {"ShardId": "s2"}]}])
    marks = {"s0": mark(5000), "s1": mark(3000), "s2": mark(1000, ended=True)}
    p = read_progress(kinesis, "trips", FakeStore(marks, set(), None))  # type: ignore[arg-type]
    assert (p.global_ms, p.waiting_for, p.through_ms) == (3000, [], None)


def test_stream_context_has_the_emitters_namespace_and_stream_dimension() -> None:
    """The finalizer's documents are in the same namespace and dimension set as the record
    processors' main documents, so one CloudWatch query finds both."""
    ctx = stream_context("app-x", "trips")
    ctx.put_metric("WindowsFinalized", 2, "Count")
    (line,) = emf_lines(ctx)
    mine = json.loads(line)["_aws"]["CloudWatchMetrics"][0]
    out = io.StringIO()
    Emitter("app-x", "trips", "shardId-0", out=out).emit(ShardCounters(records_in=1))
    theirs = json.loads(out.getvalue().splitlines()[0])["_aws"]["CloudWatchMetrics"][0]
    assert (mine["Namespace"], mine["Dimensions"]) == (theirs["Namespace"], theirs["Dimensions"]) == (
        "app-x", [["Stream"]])
    assert json.loads(line)["Stream"] == "trips"
