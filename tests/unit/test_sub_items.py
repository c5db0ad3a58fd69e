"""Write sharding of the aggregate items: which sub-item a shard writes, and the sort keys."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer_app.rules.sub_items import sort_key, sub_item, window_of

WINDOW = "2026-11-27T08:00:30Z"


def test_one_sub_item_keeps_the_window_start_as_the_sort_key() -> None:
    assert sort_key(WINDOW, "shardId-000000000007", 1) == WINDOW


def test_consecutive_shards_spread_evenly() -> None:
    counts = Counter(sub_item(f"shardId-{i:012d}", 16) for i in range(2048))
    assert set(counts.values()) == {128} and len(counts) == 16


def test_sort_keys_sort_within_their_window() -> None:
    keys = {sort_key(WINDOW, f"shardId-{i:012d}", 12) for i in range(24)}
    assert keys == {f"{WINDOW}#{k:02d}" for k in range(12)}
    assert sorted(keys) == [f"{WINDOW}#{k:02d}" for k in range(12)]  # zero-padded: Query order


@given(shard=st.text(min_size=1, max_size=30), count=st.integers(1, 1000))
def test_any_shard_id_has_one_stable_sub_item(shard: str, count: int) -> None:
    k = sub_item(shard, count)
    assert 0 <= k < count and sub_item(shard, count) == k
    assert window_of(sort_key(WINDOW, shard, count)) == WINDOW


@pytest.mark.parametrize("count", [0, -1, 1001])
def test_count_out_of_range(count: int) -> None:
    with pytest.raises(ValueError, match="sub-item count"):
        sub_item("shardId-000000000000", count)
