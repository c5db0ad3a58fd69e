"""`python -m consumer_app run` refuses to start on bad configuration, with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from consumer_app.tables import AGGREGATES
from devkit.local import stack
from devkit.local.resources import ensure_table

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KCL_"))}
    return subprocess.run([sys.executable, "-m", "consumer_app", "run"], env={**base, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def local_env(moto: Any, **extra: str) -> dict[str, str]:
    env = {"AWS_REGION": stack.REGION, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{moto.port}",
           "AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:9", "KCL_PROFILE": "local"}
    env.update(extra)
    return env


def test_bad_settings_listed_together(moto: Any) -> None:
    r = run_worker(local_env(moto, WINDOW_SECONDS="0", INITIAL_POSITION="OLDEST", KCL_PROFILE="prod"))
    assert r.returncode == 2
    for needle in ("WINDOW_SECONDS='0'", "INITIAL_POSITION='OLDEST'", "KCL_PROFILE='prod'"):
        assert needle in r.stderr


def test_missing_region(moto: Any) -> None:
    env = local_env(moto)
    del env["AWS_REGION"]
    r = run_worker(env)
    assert r.returncode == 2 and "AWS_REGION is not set" in r.stderr


def test_missing_table_named_with_expected_schema(moto: Any) -> None:
    r = run_worker(local_env(moto, AGGREGATES_TABLE="nope-aggs", REJECTS_TABLE="nope-rejects"))
    assert r.returncode == 2
    assert "table 'nope-aggs' does not exist" in r.stderr
    assert "'vendorId': 'HASH N', 'windowStart': 'RANGE S'" in r.stderr


def test_lab_table_with_partition_key_only_is_refused(moto: Any, ddb: Any, tables: tuple[str, str]) -> None:
    ddb.create_table(TableName="lab-kinesisAggs", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "vendorId", "AttributeType": "N"}],
                     KeySchema=[{"AttributeName": "vendorId", "KeyType": "HASH"}])
    r = run_worker(local_env(moto, AGGREGATES_TABLE="lab-kinesisAggs", REJECTS_TABLE=tables[1]))
    assert r.returncode == 2
    assert "has key schema {'vendorId': 'HASH N'}" in r.stderr and "per-window history" in r.stderr


def test_unknown_property_key_is_an_error(moto: Any, tables: tuple[str, str], tmp_path: Path) -> None:
    for name in ("base.properties", "local.properties", "logback.xml"):
        (tmp_path / name).write_text((ROOT / "properties" / name).read_text())
    with open(tmp_path / "local.properties", "a") as f:
        f.write("maxrecords = 500\n")  # wrong case: the daemon would ignore it silently
    r = run_worker(local_env(moto, AGGREGATES_TABLE=tables[0], REJECTS_TABLE=tables[1],
                             KCL_PROPERTIES_DIR=str(tmp_path)))
    assert r.returncode == 2
    assert "unknown KCL properties" in r.stderr and "maxrecords (did you mean maxRecords?)" in r.stderr


def test_rendered_properties_for_local_profile(moto: Any, tables: tuple[str, str], tmp_path: Path) -> None:
    """The file the daemon would read: rendered from properties/ plus the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KCL_"))}
    env.update(local_env(moto, AGGREGATES_TABLE=tables[0], REJECTS_TABLE=tables[1],
                         KCL_RUN_DIR=str(tmp_path), WORKER_ID="w-test", SHUTDOWN_GRACE_MILLIS="15000",
                         LEASE_BOOTSTRAP="off"))
    code = "from consumer_app.worker import prepare; import json; print(json.dumps(prepare()))"
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    props = dict(line.split(" = ", 1) for line in (tmp_path / "consumer.properties").read_text().splitlines())
    assert props["retrievalMode"] == "POLLING"
    assert props["AwsCredentialsProvider"] == "EnvironmentVariableCredentialsProvider"
    assert props["metricsLevel"] == "NONE" and props["disableWorkerMetrics"] == "true"
    assert props["shutdownGraceMillis"] == "15000" and props["workerId"] == "w-test"
    assert props["dynamoDBEndpoint"] == f"http://127.0.0.1:{moto.port}"
    assert props["streamName"] == "input_stream" and props["applicationName"] == "kinesis-aggs-consumer"
    assert props["executableName"].endswith(" -m consumer_app.processor")


def test_aggregates_table_exists_check_passes(moto: Any, ddb: Any) -> None:
    ensure_table(ddb, "fine-aggs", AGGREGATES)
    from consumer_app.dynamo.schema import check_table

    check_table(ddb, "fine-aggs", AGGREGATES)  # no exception
