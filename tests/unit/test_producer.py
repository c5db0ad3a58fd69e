"""The producer's generator, summary and batching, and its agreement with the consumer's validation."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime

import pytest

from consumer_app.rules.validation import Trip, Unclean, validate
from producer.sender import MAX_BATCH, MAX_BATCH_BYTES, batches
from producer.summary import Summary
from producer.trips import UNCLEAN_KINDS, Generated, Generator, trip, unclean

KINDS = ("not_utf8", "not_json", "duplicate_key", "not_object", "missing_field", "null_field", "bad_type",
         "bad_value")


def generate(seed: int | None, ratio: float, n: int) -> list[Generated]:
    g = Generator(seed, ratio)
    return [g.next() for _ in range(n)]


def test_unclean_kinds_are_the_reject_reasons():
    assert UNCLEAN_KINDS == KINDS


def test_seeded_generators_are_deterministic():
    a = generate(7, 0.1, 300)
    b = generate(7, 0.1, 300)
    assert [r.data for r in a] == [r.data for r in b]
    assert a == b
    c = generate(8, 0.1, 300)
    assert [r.data for r in a] != [r.data for r in c]


def test_seeded_dates_start_at_a_fixed_instant():
    first = json.loads(generate(1, 0.0, 2)[1].data)
    assert first["pickupDate"] == "2026-01-01T08:00:01"


def test_unseeded_generator_uses_the_clock():
    g = Generator(None, 0.0, clock=lambda: datetime(2030, 5, 6, 7, 8, 9))
    doc = json.loads(g.next().data)
    assert doc["pickupDate"] == "2030-05-06T07:08:09"


def test_clean_trip_fields_and_ranges():
    rng = random.Random(3)
    for _ in range(500):
        t = trip(rng, datetime(2026, 1, 1, 8))
        assert t["vendorId"] in (1, 2)
        assert 1 <= t["passengerCount"] <= 9
        assert t["storeAndFwdFlag"] in (0, 1)
        assert 1 <= t["gcDistance"] <= 7 and t["googleDistance"] == t["gcDistance"]
        assert 8 <= t["tripDuration"] <= 10000 and t["googleDuration"] == t["tripDuration"]
        assert -74.01 <= float(t["pickupLongitude"]) <= -73.87
        assert 40.67 <= float(t["dropoffLatitude"]) <= 40.81


@pytest.mark.parametrize(("ratio", "n", "expected"), [(0.05, 2000, 100), (0.2, 2000, 400), (0.0, 500, 0),
                                                      (1.0, 64, 64), (0.5, 10, 5), (0.25, 1000, 250)])
def test_unclean_share_is_exact(ratio, n, expected):
    recs = generate(11, ratio, n)
    assert sum(r.kind != "clean" for r in recs) == expected


@pytest.mark.parametrize("ratio", [0.05, 0.2, 0.33, 0.07])
def test_unclean_share_is_evenly_spread(ratio):
    unclean_so_far = 0
    for k, r in enumerate(generate(5, ratio, 1000), 1):
        unclean_so_far += r.kind != "clean"
        assert abs(unclean_so_far - ratio * k) < 1, k


def test_unclean_kinds_cycle_in_turn():
    recs = [r for r in generate(2, 0.05, 2000) if r.kind != "clean"]
    assert [r.kind for r in recs[:16]] == list(KINDS) * 2
    # 100 = 12 full turns of 8 kinds + the first 4 kinds once more
    assert Counter(r.kind for r in recs) == {k: 13 if i < 4 else 12 for i, k in enumerate(KINDS)}


@pytest.mark.parametrize("ratio", [-0.01, 1.01])
def test_ratio_out_of_range(ratio):
    with pytest.raises(ValueError):
        Generator(1, ratio)


def test_generated_metadata():
    for r in generate(4, 0.3, 200):
        doc_id = r.partition_key
        assert doc_id.startswith("id")
        if r.kind == "clean":
            doc = json.loads(r.data)
            assert (doc["id"], doc["vendorId"], doc["passengerCount"]) == (doc_id, r.vendor_id, r.passengers)
        else:
            assert r.vendor_id is None and r.passengers is None


@pytest.mark.parametrize("seed", [0, 1, 42, 2026])
def test_consumer_validation_agrees_with_the_producer(seed):
    """Every clean record is the Trip the producer counted; every unclean one gets its kind as reason."""
    recs = generate(seed, 0.2, 2000)
    assert sum(r.kind != "clean" for r in recs) == 400
    for r in recs:
        result = validate(r.data)
        if r.kind == "clean":
            assert result == Trip(r.vendor_id, r.passengers), r
        else:
            assert isinstance(result, Unclean) and result.reason == r.kind, (r, result)


@pytest.mark.parametrize("kind", KINDS)
def test_each_unclean_maker_gives_its_reason(kind):
    rng = random.Random(9)
    for _ in range(40):
        t = trip(rng, datetime(2026, 1, 1, 8))
        result = validate(unclean(kind, t, rng))
        assert isinstance(result, Unclean) and result.reason == kind


# -- Summary -------------------------------------------------------------------------

def g(kind: str, vendor: int | None = None, passengers: int | None = None) -> Generated:
    return Generated(b"x", "pk", kind, vendor, passengers)


def test_summary_totals():
    s = Summary()
    s.add(g("clean", 1, 3), "shardId-000", "9")
    s.add(g("clean", 2, 4), "shardId-001", "100")
    s.add(g("clean", 1, 2), "shardId-000", "10")  # numerically above "9"
    s.add(g("not_json"), "shardId-000", "8")
    s.add(g("bad_type"), "shardId-001", "50")
    s.add(g("not_json"), "shardId-001", "101")
    s.retried_entries = 3
    s.throttled_calls = 1
    assert s.to_json() == {
        "sent": 6,
        "clean": 3,
        "unclean": {"total": 3, "byReason": {"bad_type": 1, "not_json": 2}},
        "vendors": {"1": {"passenger": 5, "trips": 2}, "2": {"passenger": 4, "trips": 1}},
        "shards": {"shardId-000": {"records": 3, "lastSequence": "10"},
                   "shardId-001": {"records": 3, "lastSequence": "101"}},
        "retriedEntries": 3,
        "throttledCalls": 1,
    }


def test_summary_empty():
    assert Summary().to_json() == {"sent": 0, "clean": 0, "unclean": {"total": 0, "byReason": {}},
                                   "vendors": {}, "shards": {}, "retriedEntries": 0, "throttledCalls": 0}


def test_summary_is_json_serialisable():
    s = Summary()
    for i, r in enumerate(generate(3, 0.2, 50)):
        s.add(r, f"shardId-{i % 2}", str(10**60 + i))
    doc = json.loads(json.dumps(s.to_json()))
    assert doc["sent"] == 50 and doc["clean"] == 40 and doc["unclean"]["total"] == 10
    assert sum(v["trips"] for v in doc["vendors"].values()) == 40


# -- sender.batches ------------------------------------------------------------------

def sized(n_bytes: int, key: str = "k") -> Generated:
    return Generated(b"a" * (n_bytes - len(key)), key, "clean", 1, 1)


def test_batch_limits():
    assert (MAX_BATCH, MAX_BATCH_BYTES) == (500, 5 * 1024 * 1024)


def test_batches_of_at_most_500():
    recs = [sized(10) for _ in range(1001)]
    out = batches(recs)
    assert [len(b) for b in out] == [500, 500, 1]
    assert [r for b in out for r in b] == recs


def test_batches_of_at_most_5_mib_including_keys():
    mib = 1024 * 1024
    recs = [sized(mib, key="k" * 10) for _ in range(11)]
    out = batches(recs)
    assert [len(b) for b in out] == [5, 5, 1]  # exactly 5 MiB fits
    recs = [sized(mib + 1) for _ in range(6)]
    assert [len(b) for b in batches(recs)] == [4, 2]


def test_oversized_single_record_gets_its_own_batch():
    recs = [sized(100), sized(6 * 1024 * 1024), sized(100)]
    assert [len(b) for b in batches(recs)] == [1, 1, 1]


def test_batches_empty():
    assert batches([]) == []


def test_batches_counts_utf8_key_bytes():
    key = "é" * 100  # 200 bytes in UTF-8
    rec = Generated(b"a" * (MAX_BATCH_BYTES // 2 - 200), key, "clean", 1, 1)
    assert [len(b) for b in batches([rec, rec])] == [2]
    rec2 = Generated(b"a" * (MAX_BATCH_BYTES // 2 - 199), key, "clean", 1, 1)
    assert [len(b) for b in batches([rec2, rec2])] == [1, 1]


def _summary(seed: int, n: int, shards: int = 3) -> Summary:
    gen, s = Generator(seed, 0.2), Summary()
    for i in range(n):
        s.add(gen.next(), f"shardId-{i % shards:012d}", str(10**20 * seed + i))
    return s


def test_summary_json_round_trip():
    s = _summary(1, 50)
    assert Summary.from_json(json.loads(json.dumps(s.to_json()))).to_json() == s.to_json()


def test_absorbed_summaries_equal_one_run_over_both():
    a, b = _summary(1, 40), _summary(2, 30, shards=4)
    both = Summary()
    gen_a, gen_b = Generator(1, 0.2), Generator(2, 0.2)
    for i in range(40):
        both.add(gen_a.next(), f"shardId-{i % 3:012d}", str(10**20 + i))
    for i in range(30):
        both.add(gen_b.next(), f"shardId-{i % 4:012d}", str(2 * 10**20 + i))
    a.absorb(Summary.from_json(b.to_json()))
    assert a.to_json() == both.to_json()
    assert a.to_json()["shards"]["shardId-000000000003"]["records"] == 7


class _FlakyKinesis:
    """put_records that fails as ``errors`` say, one per call, then accepts everything."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0

    def put_records(self, StreamName: str, Records: list[dict]) -> dict:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"FailedRecordCount": 0, "Records": [
            {"ShardId": "shardId-000000000000", "SequenceNumber": str(i)} for i in range(len(Records))]}


def test_a_connection_closed_or_timed_out_mid_call_is_retried_not_fatal():
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

    from producer.sender import Sender

    client = _FlakyKinesis([ConnectionClosedError(endpoint_url="http://k"),
                            ReadTimeoutError(endpoint_url="http://k"),
                            EndpointConnectionError(endpoint_url="http://k")])
    summary = Summary()
    Sender(client, "s", summary, sleep=lambda s: None).send([Generator(1, 0.0).next() for _ in range(3)])
    assert (client.calls, summary.sent, summary.throttled_calls) == (4, 3, 3)


def test_a_refused_call_is_not_retried():
    from botocore.exceptions import ClientError

    from producer.sender import Sender, SendFailed

    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutRecords")
    client = _FlakyKinesis([denied])
    records = [Generator(1, 0.0).next() for _ in range(3)]
    with pytest.raises(SendFailed, match="AccessDeniedException"):
        Sender(client, "s", Summary(), sleep=lambda s: None).send(records)
    assert client.calls == 1
