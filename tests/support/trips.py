"""Trip documents as the producer sends them, written out independently of the validator."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

#: a 30 s window boundary (2025-11-27T08:00:00Z), the arrival time of the fake records
BASE_MS = 1_764_230_400_000

# The data contract, written out independently of the module.
FIELDS = (
    "id", "vendorId", "pickupDate", "dropoffDate", "passengerCount", "pickupLongitude",
    "pickupLatitude", "dropoffLongitude", "dropoffLatitude", "storeAndFwdFlag", "gcDistance",
    "tripDuration", "googleDistance", "googleDuration",
)


def trip(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "id4242424",
        "vendorId": 2,
        "pickupDate": "2026-01-01T08:00:00",
        "dropoffDate": "2026-01-01T08:45:00",
        "passengerCount": 3,
        "pickupLongitude": "-73.98000000",
        "pickupLatitude": "40.75000000",
        "dropoffLongitude": "-73.95000000",
        "dropoffLatitude": "40.78000000",
        "storeAndFwdFlag": 0,
        "gcDistance": 3,
        "tripDuration": 2700,
        "googleDistance": 3,
        "googleDuration": 2700,
    }
    doc.update(over)
    return doc


def encode(doc: Any, raw: dict[str, str] | None = None) -> bytes:
    """JSON bytes of ``doc``; ``raw`` puts literal JSON text (e.g. ``1e999``) in a field."""
    raw = raw or {}
    doc = {**doc, **{k: f"@@RAW:{k}@@" for k in raw}}
    text = json.dumps(doc)
    for k, literal in raw.items():
        text = text.replace(json.dumps(f"@@RAW:{k}@@"), literal)
    return text.encode()


def trip_bytes(vendor: int, passengers: int) -> bytes:
    """A clean trip of ``vendor`` with ``passengers``, in compact JSON as the producer sends it."""
    return json.dumps(trip(vendorId=vendor, passengerCount=passengers), separators=(",", ":")).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**300), 10**300)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
