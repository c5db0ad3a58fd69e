"""Trip and unclean-record generation (pure, seeded).

Clean trips follow the workshop's lab1.py generator: vendor 1-2, 1-9 passengers, NYC
pickup/dropoff coordinates as strings, ISO dates with a 30-100 minute ride,
storeAndFwdFlag 0/1, gcDistance 1-7, tripDuration 8-10000, and the "google" figures equal
to those.  Unclean records are built to fail exactly one validation rule each; the kind
names are the consumer's reject reasons, so a run can be reconciled reason by reason.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# Manhattan-and-around bounding box, as in the lab's coordinate list.
_LON = (-74.01, -73.87)
_LAT = (40.67, 40.81)

#: unclean kinds, each named after the reject reason the consumer must give it
UNCLEAN_KINDS = (
    "not_utf8",
    "not_json",
    "duplicate_key",
    "not_object",
    "missing_field",
    "null_field",
    "bad_type",
    "bad_value",
)


@dataclass(frozen=True)
class Generated:
    """One record to send: payload, partition key, and what the consumer should make of it."""

    data: bytes
    partition_key: str
    kind: str  # "clean" or one of UNCLEAN_KINDS
    vendor_id: int | None = None
    passengers: int | None = None


def trip(rng: random.Random, now: datetime) -> dict[str, Any]:
    pickup = now
    dropoff = now + timedelta(minutes=rng.randint(30, 100))
    gc_distance = rng.randint(1, 7)
    duration = rng.randint(8, 10000)
    return {
        "id": f"id{rng.randint(1665586, 8888888)}",
        "vendorId": rng.randint(1, 2),
        "pickupDate": pickup.isoformat(),
        "dropoffDate": dropoff.isoformat(),
        "passengerCount": rng.randint(1, 9),
        "pickupLongitude": f"{rng.uniform(*_LON):.8f}",
        "pickupLatitude": f"{rng.uniform(*_LAT):.8f}",
        "dropoffLongitude": f"{rng.uniform(*_LON):.8f}",
        "dropoffLatitude": f"{rng.uniform(*_LAT):.8f}",
        "storeAndFwdFlag": rng.randint(0, 1),
        "gcDistance": gc_distance,
        "tripDuration": duration,
        "googleDistance": gc_distance,
        "googleDuration": duration,
    }


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _without(t: dict[str, Any], key: str) -> bytes:
    return _dumps({k: v for k, v in t.items() if k != key})


def unclean(kind: str, t: dict[str, Any], rng: random.Random) -> bytes:
    """A payload derived from trip ``t`` that breaks exactly the rule ``kind`` names."""
    makers: dict[str, Callable[[], bytes]] = {
        "not_utf8": lambda: b"\xff\xfe" + _dumps(t),
        "not_json": lambda: _dumps(t)[: rng.randint(1, 40)],
        "duplicate_key": lambda: _dumps(t)[:-1] + b',"vendorId":' + str(3 - t["vendorId"]).encode()
        + b"}",
        "not_object": lambda: _dumps([t]),
        "missing_field": lambda: _without(t, rng.choice(sorted(t))),
        "null_field": lambda: _dumps({**t, rng.choice(sorted(t)): None}),
        "bad_type": lambda: _dumps({**t, **rng.choice([{"vendorId": str(t["vendorId"])},
                                                       {"vendorId": True},
                                                       {"passengerCount": float(t["passengerCount"])},
                                                       {"gcDistance": "7"}])}),
        "bad_value": lambda: _dumps({**t, **rng.choice([{"passengerCount": -1},
                                                        {"storeAndFwdFlag": 2},
                                                        {"pickupDate": "yesterday"}])}),
    }
    return makers[kind]()


class Generator:
    """Deterministic for a given seed: the n-th record is always the same.

    ``unclean_ratio`` of the records are unclean, cycling through every kind in turn.
    With a seed, dates start at a fixed instant (so payloads repeat exactly); without one,
    they use the wall clock as the lab does.
    """

    def __init__(self, seed: int | None, unclean_ratio: float,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        if not 0.0 <= unclean_ratio <= 1.0:
            raise ValueError("unclean_ratio must be between 0 and 1")
        self.rng = random.Random(seed)
        self.ratio = unclean_ratio
        self.seeded = seed is not None
        self.clock = clock
        self.base = datetime(2026, 1, 1, 8, 0, 0)
        self.n = 0
        self._unclean_sent = 0

    def next(self) -> Generated:
        now = self.base + timedelta(seconds=self.n) if self.seeded else self.clock()
        self.n += 1
        t = trip(self.rng, now)
        # unclean when the running share falls behind the ratio: exact, evenly spread
        if self._unclean_sent < self.ratio * self.n - 1e-9:
            kind = UNCLEAN_KINDS[self._unclean_sent % len(UNCLEAN_KINDS)]
            self._unclean_sent += 1
            return Generated(unclean(kind, t, self.rng), t["id"], kind)
        return Generated(_dumps(t), t["id"], "clean", t["vendorId"], t["passengerCount"])
