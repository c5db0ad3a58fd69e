"""How the demo, the chaos runner and the bench read a KCL lease row."""

from __future__ import annotations

import pytest

from devkit.local.inspect import owned, started


@pytest.mark.parametrize(("checkpoint", "expected"), [
    ("TRIM_HORIZON", False), ("-", False), ("49650000000000000000000000000001", True), ("SHARD_END", True),
])
def test_started_means_checkpointed_past_the_start(checkpoint: str, expected: bool) -> None:
    assert started({"owner": "w1", "checkpoint": checkpoint}) is expected


@pytest.mark.parametrize(("owner", "expected"), [("-", False), ("", False), ("w1", True)])
def test_owned(owner: str, expected: bool) -> None:
    assert owned({"owner": owner, "checkpoint": "TRIM_HORIZON"}) is expected
