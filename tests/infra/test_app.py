"""app.py as `make synth` runs it, and the image asset that synth stages in cdk.out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kinesis_aggs_infra.service import ASSET_EXCLUDES, default_docker_context

from tests.infra.conftest import INFRA, REPO
from tests.support.cfn import Synth

pytestmark = pytest.mark.infra

MAX_ASSET_BYTES = 5 * 1024 * 1024


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def staged_asset(outdir: Path) -> Path:
    (asset,) = [p for p in outdir.iterdir() if p.name.startswith("asset.") and p.is_dir()]
    return asset


def test_staged_image_context_is_small(synths: dict[str, Synth], docker_context: Path) -> None:
    """The fixture context holds ~28 MB in .venv, node_modules, build, .git, tests...: none is staged."""
    assert tree_size(docker_context) > 25 * 1024 * 1024
    asset = staged_asset(synths["default"].outdir)
    assert tree_size(asset) < MAX_ASSET_BYTES
    staged = sorted(str(p.relative_to(asset)) for p in asset.rglob("*") if p.is_file())
    assert staged == ["Dockerfile", "consumer_app/__init__.py", "pyproject.toml"]


def test_default_context_is_the_repo_root() -> None:
    assert default_docker_context() == REPO
    assert {".venv", "node_modules", "build", ".git", "tests", "infra", "cdk.out"} <= set(ASSET_EXCLUDES)


def _run_app(args: list[str], outdir: Path,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run infra/app.py as `make synth` does: cwd infra/, no CDK CLI, no AWS credentials."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CDK_", "JSII_SILENCE"))}  # app.py must silence jsii itself
    env["CDK_OUTDIR"] = str(outdir)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "app.py", *args], cwd=INFRA, env=env, capture_output=True,
                          text=True, timeout=300)


def test_app_synth_from_the_repo_root(tmp_path: Path) -> None:
    """`make synth` with context from the CLI (CDK_CONTEXT_JSON) and from -c; the real Dockerfile."""
    assert (REPO / "Dockerfile").is_file(), "the image is built from the repository's Dockerfile"
    cli_context = {"streamName": "trips", "applicationName": "trips-consumer", "shardCount": "4"}
    proc = _run_app(["-c", "streamMode=PROVISIONED", "-c", "shardCount=8"], tmp_path,
                    {"CDK_CONTEXT_JSON": json.dumps(cli_context)})
    assert proc.returncode == 0, proc.stderr
    assert "end-of-life" not in proc.stderr  # the jsii Node banner is silenced by app.py
    template = json.loads((tmp_path / "KinesisAggsConsumer.template.json").read_text())
    (stream,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Kinesis::Stream"]
    assert (stream["Properties"]["Name"], stream["Properties"]["ShardCount"]) == ("trips", 8)
    services = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::ECS::Service"}
    (workers,) = [r for k, r in services.items() if k.startswith("WorkersService")]
    (finalizer,) = [r for k, r in services.items() if k.startswith("FinalizerService")]
    assert (workers["Properties"]["DesiredCount"], finalizer["Properties"]["DesiredCount"]) == (4, 1)
    assert "table/trips-consumer/index/*" in json.dumps(template)
    asset = staged_asset(tmp_path)
    assert tree_size(asset) < MAX_ASSET_BYTES
    assert (asset / "Dockerfile").is_file() and (asset / "consumer_app" / "worker.py").is_file()
    for excluded in (".venv", "node_modules", "build", ".git", "tests", "infra", ".local"):
        assert not (asset / excluded).exists(), excluded


def test_app_reports_bad_settings_clearly(tmp_path: Path) -> None:
    proc = _run_app(["-c", "stopTimeoutSeconds=20", "-c", "shardcount=3"], tmp_path)
    assert proc.returncode == 2
    assert "stopTimeoutSeconds=20 must exceed shutdownGraceMillis=25000 + 2000 ms" in proc.stderr
    assert "shardcount: unknown setting (did you mean shardCount?)" in proc.stderr
    assert "Traceback" not in proc.stderr
