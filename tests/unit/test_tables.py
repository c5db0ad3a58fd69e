"""The aggregates table's contract: the one decoding of an aggregate item (consumer_app.tables)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from consumer_app.dynamo.aggregates import AggregateWriter
from consumer_app.rules.aggregation import AggregateKey, Contribution, Position
from consumer_app.tables import AggregateItem, decode_aggregate

FULL: dict[str, Any] = {
    "vendorId": {"N": "2"},
    "windowStart": {"S": "2026-01-01T08:00:30Z#3"},
    "windowEnd": {"S": "2026-01-01T08:01:00Z"},
    "passenger": {"N": "17"},
    "trips": {"N": "9"},
    "updatedAt": {"S": "2026-01-01T08:01:04.250000Z"},
    "final": {"BOOL": True},
    "finalAt": {"S": "2026-01-01T08:01:12.000000Z"},
    "mark_shardId-000000000001": {"S": "4965:0"},
    "mark_shardId-000000000007": {"S": "5021:3"},
}


def test_every_attribute_decoded() -> None:
    a = decode_aggregate(FULL)
    assert a == AggregateItem(vendor_id=2, sort_key="2026-01-01T08:00:30Z#3",
                              window_end="2026-01-01T08:01:00Z", passenger=17, trips=9,
                              updated_at="2026-01-01T08:01:04.250000Z", final=True,
                              final_at="2026-01-01T08:01:12.000000Z",
                              marks={"shardId-000000000001": "4965:0", "shardId-000000000007": "5021:3"})
    assert a.window_start == "2026-01-01T08:00:30Z"  # the sub-item's window


def test_missing_attributes_read_as_absent() -> None:
    a = decode_aggregate({"vendorId": {"N": "5"}, "final": {"BOOL": False}})
    assert a == AggregateItem(5, "", None, 0, 0, None, False, None, {})
    assert decode_aggregate({"vendorId": {"N": "1"}, "windowStart": {"S": "w"}}).window_start == "w"


def test_the_vendor_is_required() -> None:
    with pytest.raises(KeyError):
        decode_aggregate({"windowStart": {"S": "2026-01-01T08:00:00Z"}})


def _created_by(request: dict[str, Any]) -> dict[str, Any]:
    """The item a writer's UpdateItem creates where there was none (its ADD and SET clauses)."""
    names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
    item = dict(request["Key"])
    for action, clause in re.findall(r"\b(ADD|SET) (.*?)(?= ADD | SET |$)", request["UpdateExpression"]):
        for part in clause.split(","):
            name, value = part.split("=") if action == "SET" else part.split()
            item[names.get(name.strip(), name.strip())] = values[value.strip()]
    return item


def test_decodes_what_the_writer_writes() -> None:
    """The decoder and the writer (consumer_app.dynamo.aggregates) agree on the attribute names."""
    writer = AggregateWriter(None, "aggs", "shardId-000000000004", 30, None, sub_items=2)  # type: ignore[arg-type]
    c = Contribution(AggregateKey(3, 1_764_230_400_000), [(Position(10, 0), 2), (Position(12, 1), 4)])
    a = decode_aggregate(_created_by(writer._request(c, None)))
    assert (a.vendor_id, a.window_start, a.window_end) == (3, "2025-11-27T08:00:00Z", "2025-11-27T08:00:30Z")
    assert a.sort_key == "2025-11-27T08:00:00Z#0"
    assert (a.passenger, a.trips, a.marks) == (6, 2, {"shardId-000000000004": "12:1"})
    assert a.updated_at is not None and not a.final
