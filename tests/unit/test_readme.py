"""The README matches the code: every setting documented, the two commands, the sections."""

from __future__ import annotations

import re
from pathlib import Path

from consumer_app.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    missing = sorted(set(ENV_VARS) - documented)
    assert missing == []
    for var in ("AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB",
                "JAVA_OPTS", "KCL_JARS_DIR", "KCL_PROPERTIES_DIR", "KCL_RUN_DIR"):
        assert var in documented, var


def test_two_commands_and_sections() -> None:
    assert "make demo" in README and "make test" in README
    for section in ("## Run in Docker", "## Deploy to AWS", "## Guarantees", "## KCL version and jars"):
        assert section in README, section
    assert "BENCH_TABLE" not in README and "DOCKER_SECTION" not in README and "DEPLOY_SECTION" not in README


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
