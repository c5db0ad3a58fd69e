"""split_batch: a batch of amazon_kclpy records -> clean records, rejects, last position."""

from __future__ import annotations

from consumer_app.processor import split_batch
from consumer_app.rules.aggregation import CleanRecord, Position
from consumer_app.rules.validation import Trip
from tests.support.kcl import Record
from tests.support.trips import trip_bytes

SEQ = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898


def test_split_batch():
    records = [
        Record(str(SEQ), 0, trip_bytes(1, 3), 1_000, "id1"),
        Record(str(SEQ + 1), 0, b"{not json", 1_001, "id2"),
        Record(str(SEQ + 2), 0, trip_bytes(2, 4), 1_002, "id3"),
        Record(str(SEQ + 2), 1, trip_bytes(2, 1), 1_002, "id3"),
        Record(str(SEQ + 5), None, b"[1]", 1_005, None),
    ]
    clean, rejects, last = split_batch(records)
    assert clean == [
        CleanRecord(Position(SEQ, 0), 1_000, Trip(1, 3)),
        CleanRecord(Position(SEQ + 2, 0), 1_002, Trip(2, 4)),
        CleanRecord(Position(SEQ + 2, 1), 1_002, Trip(2, 1)),
    ]
    assert [(r.position, r.arrival_ms, r.partition_key, r.reason, r.payload) for r in rejects] == [
        (Position(SEQ + 1), 1_001, "id2", "not_json", b"{not json"),
        (Position(SEQ + 5), 1_005, "", "not_object", b"[1]"),
    ]
    assert all(r.detail for r in rejects)
    assert last == Position(SEQ + 5, 0)  # the last record, even though it is a reject


def test_last_position_is_a_clean_record_when_it_ends_the_batch():
    batch = [Record("7", 0, b"\xff", 5, "k"), Record("9", 2, trip_bytes(1, 0), 6, "k")]
    clean, rejects, last = split_batch(batch)
    assert [r.reason for r in rejects] == ["not_utf8"]
    assert clean == [CleanRecord(Position(9, 2), 6, Trip(1, 0))]
    assert last == Position(9, 2)


def test_empty_batch():
    assert split_batch([]) == ([], [], None)


def test_all_rejected():
    clean, rejects, last = split_batch([Record("1", 0, b"", 1, "a"), Record("2", 0, b"null", 2, "b")])
    assert clean == []
    assert [r.reason for r in rejects] == ["not_json", "not_object"]
    assert last == Position(2)
