"""The validator's fast path (msgspec) never calls clean what the full check would not.

``_fast_trip`` may answer "not sure" (None) as often as it likes, but when it returns a
Trip, ``classify`` (the definition of clean) must return the same Trip.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer_app.rules.validation import Trip, Unclean, _fast_trip, classify, validate
from tests.support.trips import FIELDS, encode, json_values, trip

EDGE_LITERALS = ("1e999", "-1e999", "NaN", "Infinity", "9" * 400, "-0", "0.0", "1E2", "true", "false",
                 "null", '"Y"', '"N"', '"y"', "1", "0", "2", '""', '"\\u0000"', '"\\ud800"', "[]", "{}",
                 '{"a":1,"a":2}', '"2026-13-01T00:00:00"', '"2026-01-01"', "2147483647", "2147483648",
                 "1000", "1001", "-1")


def agree(payload: bytes) -> Trip | None:
    fast = _fast_trip(payload)
    if fast is not None:
        assert classify(payload) == fast, payload
    assert validate(payload) == classify(payload)
    return fast


def test_the_fast_path_takes_the_common_clean_record() -> None:
    compact = json.dumps(trip(), separators=(",", ":")).encode()
    spaced = json.dumps(trip(), indent=2).encode()
    assert agree(compact) == Trip(2, 3) and agree(spaced) == Trip(2, 3)
    assert agree(encode(trip(pickupLongitude=-73.9, storeAndFwdFlag="Y", gcDistance=2.5))) == Trip(2, 3)


def test_what_the_fast_path_leaves_to_the_full_check() -> None:
    leave = [
        encode(trip(extra={"nested": [1]})),  # an unknown field
        encode(trip(id="caf\u00e9")),  # ensure_ascii writes an escape
        encode(trip(), raw={"gcDistance": "9" * 400}),  # an int too big for a float: clean
        encode(trip(pickupDate="not a date")),
        encode(trip(vendorId=None)),
    ]
    for payload in leave:
        assert _fast_trip(payload) is None, payload
        agree(payload)
    assert classify(leave[2]) == Trip(2, 3)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS), again=st.sampled_from(FIELDS), literal=st.sampled_from(EDGE_LITERALS),
       gap=st.sampled_from(["", " ", "  ", "\t", "\n", " \r\n "]))
def test_a_repeated_key_is_never_fast(field, again, literal, gap):
    base = json.dumps(trip(), separators=(",", ":"))
    first = json.dumps(trip()[again])
    for value in (first, literal):
        payload = (base[:-1] + f',{gap}"{again}"{gap}:{gap}{value}{gap}}}').encode()
        assert _fast_trip(payload) is None, payload
        result = classify(payload)
        assert isinstance(result, Unclean), payload
    del field


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_and_full_agree_on_mutated_trips(data):
    doc: dict[str, Any] = trip()
    raw: dict[str, str] = {}
    for field in data.draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True), label="changed"):
        how = data.draw(st.sampled_from(["value", "literal", "drop"]), label=f"how {field}")
        if how == "value":
            doc[field] = data.draw(json_values, label=field)
        elif how == "literal":
            raw[field] = data.draw(st.sampled_from(EDGE_LITERALS), label=field)
        else:
            del doc[field]
    if data.draw(st.booleans(), label="extra field"):
        doc[data.draw(st.text(max_size=6), label="extra key")] = data.draw(json_values, label="extra")
    payload = encode(doc, raw)
    if data.draw(st.booleans(), label="reformat"):
        with contextlib.suppress(ValueError):  # NaN literals and the like: keep the text as it is
            payload = json.dumps(json.loads(payload), indent=data.draw(st.sampled_from([None, 1, 4])),
                                 ensure_ascii=data.draw(st.booleans()),
                                 separators=data.draw(st.sampled_from([None, (",", ":")]))).encode()
    agree(payload)
