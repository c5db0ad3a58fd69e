"""`python -m devkit local up|status|down` against real emulator processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.local import emulators, stack
from producer.produce import Plan, produce
from producer.summary import Summary

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOCAL_STATE_DIR": str(state)}
    return subprocess.run([sys.executable, "-m", "devkit", "local", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_up_twice_status_down(tmp_path: Path) -> None:
    kp, dp = str(emulators.free_port()), str(emulators.free_port())
    up = cli("up", "--shards", "2", "--kinesis-port", kp, "--dynamodb-port", dp, state=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        exports = dict(line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines())
        assert exports["AWS_ENDPOINT_URL_KINESIS"] == f"http://127.0.0.1:{kp}"
        assert exports["AWS_ENDPOINT_URL_DYNAMODB"] == f"http://127.0.0.1:{dp}"
        assert exports["AWS_REGION"] == exports["AWS_DEFAULT_REGION"] == "us-east-1"
        assert exports["KCL_PROFILE"] == "local"
        # the exports work in a shell: eval them and ask the stream for its shards
        probe = subprocess.run(["bash", "-c", f'eval "{up.stdout}"; {sys.executable} -c "import boto3;'
                                "print(len(boto3.client('kinesis').list_shards(StreamName='input_stream')"
                                "['Shards']))\""], capture_output=True, text=True, timeout=60)
        assert probe.stdout.strip() == "2", probe.stderr
        # `local init` (compose's one-shot service): idempotent creation on the env's endpoints
        init = subprocess.run([sys.executable, "-m", "devkit", "local", "init", "--shards", "2",
                               "--wait", "20"], env={**os.environ, **exports, "KCL_PROFILE": "local"},
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert init.returncode == 0 and "ready" in init.stderr, init.stderr
        again = cli("up", "--kinesis-port", kp, "--dynamodb-port", dp, state=tmp_path)
        assert again.returncode == 0 and again.stdout == up.stdout
        status = cli("status", state=tmp_path)
        assert status.returncode == 0 and status.stdout.count("running") == 2
    finally:
        down = cli("down", state=tmp_path)
    assert down.returncode == 0
    assert not emulators.port_open(int(kp)) and not emulators.port_open(int(dp))
    assert cli("status", state=tmp_path).returncode == 3


def test_check_tells_a_bad_summary_from_records_not_yet_consumed(tmp_path: Path) -> None:
    """`local check` against a stack where nothing consumes: not exact, the shards behind."""
    with stack.running(tmp_path / "emulators", shards=2) as st:
        summary = Summary()
        produce(Plan(st.stream, count=50, seed=2), summary,
                st.client("kinesis"))
        env = {**os.environ, **st.env(), "APPLICATION_NAME": "nobody-consumes"}

        def check(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "devkit", "local", "check", *args], env=env,
                                  cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)

        bad = check(stdin='{"sent": 3}')
        assert bad.returncode == 2 and "is not a producer summary" in bad.stderr, bad.stderr
        r = check("--wait", "1", stdin=json.dumps(summary.to_json()))
        assert r.returncode == 1, r.stderr
        out = json.loads(r.stdout)
        assert out["exact"] is False and out["produced"] == 50 and out["aggregated"] == 0
        assert set(out["behind"]) == set(summary.to_json()["shards"])
        assert any("difference 50" in line for line in out["mismatches"]), out["mismatches"]
