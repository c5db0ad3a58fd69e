"""Every synthesized template passes cfn-lint: what CloudFormation would reject at deploy time
(bad property values, wrong types, missing attributes) is caught at synth time instead."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.conftest import COMBINATIONS, REPO
from tests.support.cfn import Synth

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_template_passes_cfn_lint(synths: dict[str, Synth], name: str, tmp_path: Path) -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(REPO / ".venv" / "bin")) or shutil.which("cfn-lint")
    assert cfn_lint, "cfn-lint not installed (make setup installs it from pyproject's dev extra)"
    template = tmp_path / f"{name}.template.json"
    template.write_text(json.dumps(synths[name].template.to_json(), indent=1))
    # errors only (E); warnings and informational findings (W, I) are printed, not failed on
    r = subprocess.run([cfn_lint, "--format", "parseable", "--regions", "us-east-1", "eu-west-1",
                        "--", str(template)], capture_output=True, text=True, timeout=300)
    findings = [line for line in r.stdout.splitlines() if line.strip()]
    errors = [line for line in findings if ":E" in line]
    print(f"{name}: {len(findings)} finding(s), {len(errors)} error(s)")
    for line in findings:
        print("  " + line)
    assert r.returncode in (0, 4, 8, 12) and not errors, r.stdout + r.stderr
