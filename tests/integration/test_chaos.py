"""The fast subset of the fault scenarios (crash, graceful stop, throttling, malformed input)
at small sizes, so CI guards the "nothing lost, nothing counted twice" claim.  The whole set
is `make chaos` (docs/chaos.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.chaos.runner import table
from devkit.chaos.scenarios import FAST_SUBSET, SCENARIOS, SMALL

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.chaos]


@pytest.mark.parametrize("name", FAST_SUBSET)
def test_scenario(name: str, tmp_path: Path) -> None:
    result = SCENARIOS[name](SMALL, tmp_path)
    print("\n" + table([result]))
    assert result.produced > 0
    assert (result.lost, result.counted_twice) == (0, 0), result.problems
    assert result.passed, (result.problems, result.details)
