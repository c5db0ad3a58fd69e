"""The daemon's classpath (build/jars, resolved by Maven from pom.xml): one version per jar."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JARS = ROOT / "build" / "jars"


def artifacts() -> list[tuple[str, str, str, str]]:
    """(groupId, artifactId, classifier, version) from Maven's dependency:list output."""
    out = []
    for line in (JARS / "artifacts.txt").read_text().splitlines():
        parts = line.strip().split(":")
        if len(parts) == 5:
            group, artifact, _type, version, _scope = parts
            out.append((group, artifact, "", version))
        elif len(parts) == 6:
            group, artifact, _type, classifier, version, _scope = parts
            out.append((group, artifact, classifier, version))
    return out


@pytest.fixture(scope="module")
def resolved() -> list[tuple[str, str, str, str]]:
    if not (JARS / "artifacts.txt").is_file():
        pytest.fail("build/jars/artifacts.txt missing: run `make setup`")
    return artifacts()


def test_exactly_one_version_of_each_artifact(resolved: list[tuple[str, str, str, str]]) -> None:
    versions: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for group, artifact, classifier, version in resolved:
        versions[(group, artifact, classifier)].add(version)
    assert len(resolved) > 50
    assert {k: v for k, v in versions.items() if len(v) > 1} == {}


def test_jar_files_match_the_resolved_list(resolved: list[tuple[str, str, str, str]]) -> None:
    files = sorted(p.name for p in JARS.glob("*.jar"))
    expected = sorted(f"{g}.{a}-{v}{'-' + c if c else ''}.jar" for g, a, c, v in resolved)
    assert files == expected


def test_kcl_versions(resolved: list[tuple[str, str, str, str]]) -> None:
    found = {(g, a): v for g, a, _, v in resolved}
    assert found[("software.amazon.kinesis", "amazon-kinesis-client-multilang")] == "3.1.3"
    core = found[("software.amazon.kinesis", "amazon-kinesis-client")]
    # below 3.4.3 a lease can stay stuck after a graceful handoff (upstream fix #1729)
    assert tuple(int(x) for x in core.split(".")) >= (3, 4, 3), core
    sdk = {v for (g, _a), v in found.items() if g == "software.amazon.awssdk"}
    assert sdk == {"2.41.21"}, sdk
