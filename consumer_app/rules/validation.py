"""Record validation: clean trip or unclean with one reason from a fixed set.

A record is clean when it is a UTF-8 JSON object holding every trip field, none null,
each of the expected type and range.  Ranges are bounded so that a hostile value can
never make a DynamoDB write fail (a sum beyond 38 digits would be a permanent error,
and a permanent error stops the shard).
"""

from __future__ import annotations

import json
import math
import operator
from datetime import datetime
from typing import Annotated, Any, Final, Literal, NamedTuple

import msgspec

TRIP_FIELDS: Final = (
    "id",
    "vendorId",
    "pickupDate",
    "dropoffDate",
    "passengerCount",
    "pickupLongitude",
    "pickupLatitude",
    "dropoffLongitude",
    "dropoffLatitude",
    "storeAndFwdFlag",
    "gcDistance",
    "tripDuration",
    "googleDistance",
    "googleDuration",
)

#: Every reason a record can be unclean, in the order the checks run.
REASONS: Final = (
    "not_utf8",  # payload bytes are not valid UTF-8
    "not_json",  # not parseable JSON (also NaN/Infinity, absurd nesting or digits)
    "duplicate_key",  # a JSON object repeats a key: which value counts is ambiguous
    "not_object",  # valid JSON, but not an object
    "missing_field",  # a trip field is absent
    "null_field",  # a trip field is null
    "bad_type",  # a trip field has the wrong JSON type
    "bad_value",  # right type, value out of range or unparseable date
)

MAX_VENDOR_ID: Final = 2**31 - 1
MAX_PASSENGERS: Final = 1000
STORE_AND_FWD_FLAGS: Final = frozenset({"Y", "N"})
_DATE_FIELDS: Final = ("pickupDate", "dropoffDate")
#: a finite JSON number (msgspec reads an integer as a float too; too big is refused)
_FiniteFloat = Annotated[float, msgspec.Meta(ge=-1.7976931348623157e308, le=1.7976931348623157e308)]
_COORD_FIELDS: Final = ("pickupLongitude", "pickupLatitude", "dropoffLongitude", "dropoffLatitude")
_MEASURE_FIELDS: Final = ("gcDistance", "tripDuration", "googleDistance", "googleDuration")


class Trip(NamedTuple):
    """The part of a clean record that the aggregates need (a named tuple: built per record)."""

    vendor_id: int
    passenger_count: int


class Unclean(NamedTuple):
    """Why a record is unclean; ``reason`` is one of :data:`REASONS`."""

    reason: str
    detail: str


class _DuplicateKey(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dupes = sorted({k for k, _ in pairs if k in seen or seen.add(k)})  # noqa: RUF100
        raise _DuplicateKey(", ".join(dupes))
    return obj


_decoder = json.JSONDecoder(object_pairs_hook=_pairs_to_dict, parse_constant=_reject_constant)
_scan_once = _decoder.scan_once
_JSON_WHITESPACE = " \t\n\r"


def _is_int(value: Any) -> bool:
    return type(value) is int  # a JSON true/false is a bool, and bool is not an integer here


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


class _TripShape(msgspec.Struct, forbid_unknown_fields=True):
    """The common clean record, decoded and type-checked in C by msgspec (the fast path).

    Stricter than the rules below on purpose: whatever it refuses (extra fields, escapes,
    big numbers, nulls...) goes through the full check, which alone gives reasons.
    """

    id: str
    vendorId: Annotated[int, msgspec.Meta(ge=0, le=MAX_VENDOR_ID)]
    pickupDate: str
    dropoffDate: str
    passengerCount: Annotated[int, msgspec.Meta(ge=0, le=MAX_PASSENGERS)]
    pickupLongitude: str | float
    pickupLatitude: str | float
    dropoffLongitude: str | float
    dropoffLatitude: str | float
    storeAndFwdFlag: Literal[0, 1, "Y", "N"]
    gcDistance: _FiniteFloat
    tripDuration: _FiniteFloat
    googleDistance: _FiniteFloat
    googleDuration: _FiniteFloat


_decode_shape: Final = msgspec.json.Decoder(_TripShape).decode
_fromisoformat: Final = datetime.fromisoformat


def _fast_trip(payload: bytes) -> Trip | None:
    """A clean record's Trip, or None: not sure, ask the full check (never a wrong Trip).

    msgspec keeps the last of repeated keys, so repeats are ruled out by counting quotes:
    without a backslash (no escaped quote) every ``"`` delimits a key or a string value,
    and with exactly the 14 known scalar fields that is 2 x (14 + string values); a
    repeated key adds at least 2 (tests/unit/test_validation_fast_path.py compares both paths).
    """
    if b"\\" in payload:
        return None
    try:
        t = _decode_shape(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    strings = 3 + (type(t.pickupLongitude) is str) + (type(t.pickupLatitude) is str) + (
        type(t.dropoffLongitude) is str) + (type(t.dropoffLatitude) is str) + (type(t.storeAndFwdFlag) is str)
    if payload.count(b'"') != 2 * (len(TRIP_FIELDS) + strings):
        return None
    try:
        _fromisoformat(t.pickupDate)
        _fromisoformat(t.dropoffDate)
    except ValueError:
        return None
    return Trip(t.vendorId, t.passengerCount)


def validate(payload: bytes) -> Trip | Unclean:
    """Classify one record payload as a :class:`Trip` or :class:`Unclean`."""
    return _fast_trip(payload) or classify(payload)


def classify(payload: bytes) -> Trip | Unclean:
    """The full check, in the order of :data:`REASONS`: the definition of clean."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Unclean("not_utf8", f"invalid UTF-8 at byte {exc.start}")
    text = text.strip(_JSON_WHITESPACE)
    try:
        # the C scanner directly: JSONDecoder.decode() adds two regex passes per record
        doc, end = _scan_once(text, 0)
    except StopIteration:
        return Unclean("not_json", "Expecting value: line 1 column 1 (char 0)")
    except _DuplicateKey as exc:
        return Unclean("duplicate_key", f"repeated key(s): {exc}")
    except (ValueError, RecursionError) as exc:
        return Unclean("not_json", str(exc)[:200] or type(exc).__name__)
    if end != len(text):
        return Unclean("not_json", f"Extra data at char {end}")
    if type(doc) is not dict:
        return Unclean("not_object", f"top-level JSON {type(doc).__name__}")
    try:
        values = _trip_values(doc)  # every field at once, in C; a missing one raises
    except KeyError:
        return Unclean("missing_field", ", ".join(f for f in TRIP_FIELDS if f not in doc))
    if None in values:
        return Unclean("null_field", ", ".join(f for f, v in zip(TRIP_FIELDS, values, strict=True)
                                               if v is None))
    return _check_fields(doc, values)


_trip_values: Final = operator.itemgetter(*TRIP_FIELDS)
_NUMBER: Final = (int, float)


def _finite(x: int | float) -> bool:
    # an int is always finite; math.isfinite() would raise OverflowError on a huge one
    return type(x) is int or math.isfinite(x)


_isfinite = math.isfinite


def _fast_clean(values: tuple[Any, ...]) -> bool:
    """The common case in one expression: every type and range right (no reason needed)."""
    (id_, vendor, pickup, dropoff, passengers, lon1, lat1, lon2, lat2, flag, gc, dur, gdist, gdur) = values
    return (
        type(vendor) is int and 0 <= vendor <= MAX_VENDOR_ID
        and type(passengers) is int and 0 <= passengers <= MAX_PASSENGERS
        and type(id_) is str and type(pickup) is str and type(dropoff) is str
        and (type(lon1) is str or type(lon1) in _NUMBER) and (type(lat1) is str or type(lat1) in _NUMBER)
        and (type(lon2) is str or type(lon2) in _NUMBER) and (type(lat2) is str or type(lat2) in _NUMBER)
        and ((type(flag) is int and (flag == 0 or flag == 1))
             or (type(flag) is str and flag in STORE_AND_FWD_FLAGS))
        # measures: an int (always finite) or a finite float; inlined, this runs per record
        and (type(gc) is int or (type(gc) is float and _isfinite(gc)))
        and (type(dur) is int or (type(dur) is float and _isfinite(dur)))
        and (type(gdist) is int or (type(gdist) is float and _isfinite(gdist)))
        and (type(gdur) is int or (type(gdur) is float and _isfinite(gdur)))
    )


def _check_fields(doc: dict[str, Any], values: tuple[Any, ...]) -> Trip | Unclean:
    if _fast_clean(values):
        for f in _DATE_FIELDS:
            try:
                datetime.fromisoformat(doc[f])
            except ValueError:
                return Unclean("bad_value", f"{f} is not an ISO-8601 date")
        return Trip(vendor_id=values[1], passenger_count=values[4])
    # slow path: find the first broken rule, for its reason
    vendor, passengers = doc["vendorId"], doc["passengerCount"]
    if not _is_int(vendor):
        return Unclean("bad_type", "vendorId is not an integer")
    if not _is_int(passengers):
        return Unclean("bad_type", "passengerCount is not an integer")
    if type(doc["id"]) is not str:
        return Unclean("bad_type", "id is not a string")
    for f in _DATE_FIELDS:
        if type(doc[f]) is not str:
            return Unclean("bad_type", f"{f} is not a string")
    for f in _COORD_FIELDS:
        if type(doc[f]) is not str and not _is_number(doc[f]):
            return Unclean("bad_type", f"{f} is neither a string nor a number")
    for f in _MEASURE_FIELDS:
        if not _is_number(doc[f]):
            return Unclean("bad_type", f"{f} is not a number")
    flag = doc["storeAndFwdFlag"]
    if not (_is_int(flag) and flag in (0, 1)) and not (
        type(flag) is str and flag in STORE_AND_FWD_FLAGS
    ):
        return Unclean("bad_value" if _is_int(flag) or type(flag) is str else "bad_type",
                       "storeAndFwdFlag is not 0, 1, 'Y' or 'N'")
    if not 0 <= vendor <= MAX_VENDOR_ID:
        return Unclean("bad_value", f"vendorId out of range 0..{MAX_VENDOR_ID}")
    if not 0 <= passengers <= MAX_PASSENGERS:
        return Unclean("bad_value", f"passengerCount out of range 0..{MAX_PASSENGERS}")
    for f in _MEASURE_FIELDS:
        if not _finite(doc[f]):
            return Unclean("bad_value", f"{f} is not finite")
    for f in _DATE_FIELDS:
        try:
            datetime.fromisoformat(doc[f])
        except ValueError:
            return Unclean("bad_value", f"{f} is not an ISO-8601 date")
    return Trip(vendor_id=vendor, passenger_count=passengers)
