"""A chaos row passes only with no problem, nothing lost and nothing counted twice."""

from __future__ import annotations

from devkit.chaos.harness import Result
from devkit.chaos.runner import table


def test_pass_is_derived_from_the_findings() -> None:
    r = Result("crash", produced=10, aggregated=9, rejected=1)
    assert r.passed and r.to_json()["passed"] is True
    r.lost = 1
    assert not r.passed
    r.lost, r.counted_twice = 0, 2
    assert not r.passed
    r.counted_twice = 0
    r.problems.append("its shards were not taken over within 180 s")
    assert not r.passed and r.to_json()["passed"] is False
    assert table([r]).splitlines()[-1].endswith("FAIL")
