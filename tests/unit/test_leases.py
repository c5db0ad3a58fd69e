"""Which shards get a pre-created lease (consumer_app.rules.leases)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer_app.rules.leases import LeaseSeed, Shard, initial_leases


def shard(n: int, open_: bool = True, parents: tuple[str, ...] = ()) -> Shard:
    return Shard(f"shardId-{n:012d}", str(n * 10), str(n * 10 + 9), open_, parents)


def test_one_lease_per_open_shard_at_the_initial_position() -> None:
    assert initial_leases([shard(1), shard(0)], "LATEST") == [
        LeaseSeed("shardId-000000000000", "0", "9", "LATEST"),
        LeaseSeed("shardId-000000000001", "10", "19", "LATEST"),
    ]


def test_a_closed_shard_leaves_the_leases_to_kcl() -> None:
    assert initial_leases([shard(0, open_=False), shard(1), shard(2)], "TRIM_HORIZON") == []


def test_a_child_whose_parent_is_listed_leaves_the_leases_to_kcl() -> None:
    assert initial_leases([shard(0), shard(1, parents=("shardId-000000000000",))], "TRIM_HORIZON") == []


def test_a_child_whose_parents_expired_is_a_root() -> None:
    seeds = initial_leases([shard(5, parents=("shardId-000000000001",))], "TRIM_HORIZON")
    assert [s.shard_id for s in seeds] == ["shardId-000000000005"]


def test_no_shard_no_lease_and_unknown_positions_refused() -> None:
    assert initial_leases([], "TRIM_HORIZON") == []
    with pytest.raises(ValueError, match="AT_TIMESTAMP"):
        initial_leases([shard(0)], "AT_TIMESTAMP")


@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), unique_by=lambda t: t[0], max_size=12))
def test_leases_only_when_every_shard_is_open_and_then_one_each(spec: list[tuple[int, bool]]) -> None:
    shards = [shard(n, open_) for n, open_ in spec]
    seeds = initial_leases(shards, "TRIM_HORIZON")
    if all(s.open for s in shards):
        assert sorted(s.shard_id for s in seeds) == sorted(s.shard_id for s in shards)
        assert len({s.shard_id for s in seeds}) == len(seeds)
    else:
        assert seeds == []
