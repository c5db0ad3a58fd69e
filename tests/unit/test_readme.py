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
