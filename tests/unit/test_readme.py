"""The docs match the code: every setting documented, the two commands, the pages the README
links to, and the README stays a front door (the detail lives in docs/)."""

from __future__ import annotations

import re
from pathlib import Path

from consumer_app.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    table = CONFIGURATION.split("# Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    missing = sorted(set(ENV_VARS) - documented)
    assert missing == []
    for var in ("AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB",
                "JAVA_OPTS", "KCL_JARS_DIR", "KCL_PROPERTIES_DIR", "KCL_RUN_DIR"):
        assert var in documented, var


def test_two_commands_and_sections() -> None:
    assert "make demo" in README and "make test" in README
    for section in ("## Two commands", "## The rules, and where each lives", "## Guarantees", "## Run it"):
        assert section in README, section
    assert len(README.splitlines()) <= 250


def test_every_doc_page_is_linked_and_every_link_resolves() -> None:
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    linked = set(re.findall(r"\]\(docs/([a-z-]+\.md)(?:#[a-z-]+)?\)", README))
    assert pages == linked, (pages - linked, linked - pages)
    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([a-z-]+\.md)(?:#[a-z-]+)?\)", page.read_text()):
            assert (ROOT / "docs" / target).exists(), f"{page.name} links to {target}"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def configuration_rows() -> list[tuple[list[str], list[str]]]:
    """(variables, default literals) of each row of the configuration table."""
    table = CONFIGURATION.split("# Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) >= 3:
            plain = cells[1].startswith("`")  # "unset (`x` in the image)" is no default
            rows.append((re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]),
                         re.findall(r"`([^`]*)`", cells[1]) if plain else []))
    return rows


def test_every_documented_variable_is_read_and_its_documented_default_is_the_default() -> None:
    """The other way round: a row names only variables the settings read, and where it gives
    one plain default per variable, setting that value changes nothing."""
    from consumer_app.settings import JVM_VARS, from_env

    aws = {"AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB"}
    base = {"AWS_REGION": "eu-west-1", "WORKER_ID": "w"}
    checked = 0
    for variables, defaults in configuration_rows():
        assert variables and set(variables) <= set(ENV_VARS) | aws, variables
        if len(variables) != len(defaults) or set(variables) & (set(JVM_VARS) | aws | {"WORKER_ID"}):
            continue
        for var, default in zip(variables, defaults, strict=True):
            if "<" not in default:
                assert from_env({**base, var: default}) == from_env(base), (var, default)
                checked += 1
    assert checked >= 20, checked
