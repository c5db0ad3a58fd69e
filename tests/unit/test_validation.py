"""Record validation (docs/design.md#clean-and-unclean): clean trips, and one reason per unclean record."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer_app.rules.validation import REASONS, TRIP_FIELDS, Trip, Unclean, validate
from tests.support.trips import FIELDS, encode, json_values, trip


def reason_of(payload: bytes) -> str:
    result = validate(payload)
    assert isinstance(result, Unclean), f"expected unclean, got {result!r}"
    assert isinstance(result.detail, str) and result.detail
    return result.reason


def test_trip_fields_match_the_data_contract():
    assert TRIP_FIELDS == FIELDS


def test_reasons_are_the_fixed_set_in_check_order():
    assert REASONS == ("not_utf8", "not_json", "duplicate_key", "not_object", "missing_field",
                       "null_field", "bad_type", "bad_value")


# -- clean ---------------------------------------------------------------------------

def test_clean_trip_is_accepted_with_vendor_and_passengers():
    assert validate(encode(trip())) == Trip(vendor_id=2, passenger_count=3)


def test_compact_json_as_the_producer_sends_it():
    payload = json.dumps(trip(vendorId=1, passengerCount=9), separators=(",", ":")).encode()
    assert validate(payload) == Trip(1, 9)


@pytest.mark.parametrize("flag", [0, 1, "Y", "N"])
def test_store_and_fwd_flag_accepted_values(flag):
    assert validate(encode(trip(storeAndFwdFlag=flag))) == Trip(2, 3)


@pytest.mark.parametrize("coord", ["-73.98", "", -73.98, -74, 0, 40.75e0])
def test_coordinates_as_string_or_number(coord):
    doc = trip(pickupLongitude=coord, pickupLatitude=coord, dropoffLongitude=coord, dropoffLatitude=coord)
    assert validate(encode(doc)) == Trip(2, 3)


@pytest.mark.parametrize(("vendor", "passengers"), [(0, 0), (2**31 - 1, 1000), (7, 1), (1, 999)])
def test_range_bounds_are_inclusive(vendor, passengers):
    assert validate(encode(trip(vendorId=vendor, passengerCount=passengers))) == Trip(vendor, passengers)


@pytest.mark.parametrize("measure", [0, 3.5, -1, 1e300])
def test_measures_may_be_int_or_finite_float(measure):
    doc = trip(gcDistance=measure, tripDuration=measure, googleDistance=measure, googleDuration=measure)
    assert validate(encode(doc)) == Trip(2, 3)


@pytest.mark.parametrize("date", ["2026-01-01", "2026-01-01T08:00:00+00:00", "2026-01-01T08:00:00.123456",
                                  "2026-01-01 08:00:00", "2026-01-01T08:00:00Z"])
def test_iso_dates_accepted(date):
    assert validate(encode(trip(pickupDate=date, dropoffDate=date))) == Trip(2, 3)


def test_extra_fields_and_whitespace_are_fine():
    payload = b"  \n" + encode({**trip(), "extra": {"nested": [1, 2, None]}, "note": None}) + b"\n "
    assert validate(payload) == Trip(2, 3)


def test_non_ascii_strings_are_fine():
    assert validate(encode(trip(id="trajet-é-東京"))) == Trip(2, 3)
    assert validate(json.dumps(trip(id="é"), ensure_ascii=False).encode("utf-8")) == Trip(2, 3)


# -- not_utf8 ------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    b"\xff\xfe" + b'{"a":1}',
    b'{"id":"\xe9"}',  # latin-1 e-acute
    b"\xc3",  # truncated multi-byte sequence
    b"\xed\xa0\x80",  # UTF-8 encoded surrogate
    b"\xc0\xaf",  # overlong encoding
])
def test_not_utf8(payload):
    assert reason_of(payload) == "not_utf8"


def test_not_utf8_detail_names_the_byte():
    result = validate(b'{"a":"\xff"}')
    assert result == Unclean("not_utf8", "invalid UTF-8 at byte 6")


# -- not_json ------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    b"",
    b"   ",
    b"{",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"[NaN]",
    b"{'id': 1}",
    b"{} {}",
    b"undefined",
    b"\xef\xbb\xbf{}",  # a UTF-8 BOM is not JSON
])
def test_not_json_simple(payload):
    assert reason_of(payload) == "not_json"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_not_json_non_standard_constants_inside_a_trip(literal):
    assert reason_of(encode(trip(), raw={"gcDistance": literal})) == "not_json"


@pytest.mark.parametrize("cut", [1, 10, 57, -1])
def test_not_json_truncated_trip(cut):
    assert reason_of(encode(trip())[:cut]) == "not_json"


def test_not_json_absurd_nesting():
    assert reason_of(b"[" * 100_000) == "not_json"
    assert reason_of(b"[" * 100_000 + b"]" * 100_000) == "not_json"
    assert reason_of(b'{"a":' * 100_000 + b"1" + b"}" * 100_000) == "not_json"


def test_not_json_huge_integer():
    assert reason_of(b"1" * 5000) == "not_json"
    assert reason_of(encode(trip(), raw={"passengerCount": "9" * 5000})) == "not_json"


# -- duplicate_key -------------------------------------------------------------------

def test_duplicate_key_top_level():
    result = validate(b'{"a":1,"b":2,"a":3}')
    assert isinstance(result, Unclean)
    assert result.reason == "duplicate_key"
    assert "a" in result.detail and "b" not in result.detail


def test_duplicate_key_on_a_trip_field():
    payload = encode(trip(vendorId=1))[:-1] + b', "vendorId": 2}'
    assert reason_of(payload) == "duplicate_key"


def test_duplicate_key_same_value_and_nested():
    assert reason_of(b'{"a":1,"a":1}') == "duplicate_key"
    assert reason_of(encode({**trip(), "extra": {"x": 1}})[:-2] + b', "x": 2}}') == "duplicate_key"
    # checked before not_object
    assert reason_of(b'[{"a":1,"a":2}]') == "duplicate_key"


# -- not_object ----------------------------------------------------------------------

@pytest.mark.parametrize("payload", [b"[]", b"[{}]", b'"a string"', b"42", b"-1.5e3", b"null", b"true",
                                     b"false", json.dumps([trip()]).encode()])
def test_not_object(payload):
    assert reason_of(payload) == "not_object"


# -- missing_field / null_field -------------------------------------------------------

def test_empty_object_is_missing_every_field():
    result = validate(b"{}")
    assert isinstance(result, Unclean)
    assert result.reason == "missing_field"
    assert result.detail == ", ".join(FIELDS)


@pytest.mark.parametrize("field", FIELDS)
def test_missing_field(field):
    doc = trip()
    del doc[field]
    result = validate(encode(doc))
    assert result == Unclean("missing_field", field)


def test_missing_field_is_case_sensitive():
    doc = trip()
    doc["VendorId"] = doc.pop("vendorId")
    assert validate(encode(doc)) == Unclean("missing_field", "vendorId")


@pytest.mark.parametrize("field", FIELDS)
def test_null_field(field):
    result = validate(encode(trip(**{field: None})))
    assert result == Unclean("null_field", field)


def test_missing_is_reported_before_null():
    doc = trip(passengerCount=None)
    del doc["id"]
    assert reason_of(encode(doc)) == "missing_field"


# -- bad_type ------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("vendorId", "1"),
    ("vendorId", True),
    ("vendorId", False),
    ("vendorId", 1.0),
    ("vendorId", [1]),
    ("passengerCount", 1.0),
    ("passengerCount", "1"),
    ("passengerCount", True),
    ("passengerCount", {"n": 1}),
    ("id", 12345),
    ("pickupDate", 20260101),
    ("dropoffDate", ["2026-01-01"]),
    ("gcDistance", "7"),
    ("tripDuration", True),
    ("googleDistance", [1]),
    ("googleDuration", {}),
    ("pickupLongitude", [-73.9]),
    ("pickupLatitude", True),
    ("dropoffLongitude", {"x": 1}),
    ("dropoffLatitude", [40.7, -73.9]),
    ("storeAndFwdFlag", True),
    ("storeAndFwdFlag", 1.0),
    ("storeAndFwdFlag", ["Y"]),
])
def test_bad_type(field, value):
    assert reason_of(encode(trip(**{field: value}))) == "bad_type"


def test_bad_type_is_reported_before_bad_value():
    assert reason_of(encode(trip(vendorId="x", passengerCount=-1))) == "bad_type"
    assert reason_of(encode(trip(passengerCount=-1, gcDistance="7"))) == "bad_type"


# -- bad_value -----------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("passengerCount", -1),
    ("passengerCount", 1001),
    ("passengerCount", 10**30),
    ("vendorId", -1),
    ("vendorId", 2**31),
    ("storeAndFwdFlag", 2),
    ("storeAndFwdFlag", -1),
    ("storeAndFwdFlag", "X"),
    ("storeAndFwdFlag", "y"),
    ("storeAndFwdFlag", ""),
    ("storeAndFwdFlag", "0"),
    ("pickupDate", "yesterday"),
    ("dropoffDate", "2026-13-01T00:00:00"),
    ("pickupDate", ""),
])
def test_bad_value(field, value):
    assert reason_of(encode(trip(**{field: value}))) == "bad_value"


@pytest.mark.parametrize("field", ["gcDistance", "tripDuration", "googleDistance", "googleDuration"])
@pytest.mark.parametrize("literal", ["1e999", "-1e999"])
def test_bad_value_infinite_measure(field, literal):
    assert reason_of(encode(trip(), raw={field: literal})) == "bad_value"


def test_huge_integer_measure_is_clean():
    # an int is finite however long (math.isfinite would raise OverflowError on it, and the
    # whole batch would be lost): the measure is accepted, as the fast path accepts it
    payload = encode(trip(gcDistance=10**400))
    assert validate(payload) == Trip(2, 3)


# -- properties ----------------------------------------------------------------------

def check_result(result: Any) -> None:
    assert isinstance(result, Trip | Unclean)
    if isinstance(result, Unclean):
        assert result.reason in REASONS
        assert isinstance(result.detail, str)
    else:
        assert type(result.vendor_id) is int and 0 <= result.vendor_id <= 2**31 - 1
        assert type(result.passenger_count) is int and 0 <= result.passenger_count <= 1000


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_never_raises_on_arbitrary_bytes(payload):
    check_result(validate(payload))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='{}[]":,0123456789.-+eEtrufalsn \\u', max_size=80))
def test_never_raises_on_json_like_text(text):
    check_result(validate(text.encode()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_never_raises_with_any_json_value_in_any_field(field, value):
    check_result(validate(encode(trip(**{field: value}))))


def expected_for_count_field(field: str, value: Any) -> Trip | str:
    """Oracle for vendorId / passengerCount replaced by ``value`` in an otherwise clean trip."""
    if value is None:
        return "null_field"
    if type(value) is not int:
        return "bad_type"
    hi = 2**31 - 1 if field == "vendorId" else 1000
    if not 0 <= value <= hi:
        return "bad_value"
    return Trip(value, 3) if field == "vendorId" else Trip(2, value)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(["vendorId", "passengerCount"]),
       value=json_values | st.integers(-5, 2**32))
def test_vendor_and_passenger_classification(field, value):
    want = expected_for_count_field(field, value)
    result = validate(encode(trip(**{field: value})))
    if isinstance(want, Trip):
        assert result == want
    else:
        assert isinstance(result, Unclean) and result.reason == want
