"""Settings from CDK context: defaults, coercion, the checks that fail the synth early."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from kinesis_aggs_infra.config import (
    DEFAULTS,
    ConfigError,
    from_context,
    load_context,
    parse_override,
)

from consumer_app import settings as worker_settings
from consumer_app.settings import Settings

pytestmark = pytest.mark.infra

INFRA = Path(__file__).resolve().parents[2] / "infra"


def cfg_error(**ctx: Any) -> str:
    with pytest.raises(ConfigError) as info:
        from_context(ctx)
    return str(info.value)


def test_defaults() -> None:
    cfg = from_context({})
    assert (cfg.stream_name, cfg.stream_mode, cfg.stream_encryption) == \
        ("input_stream", "ON_DEMAND", "MANAGED")
    assert (cfg.aggregates_table_name, cfg.rejects_table_name) == ("kinesisAggs", "kinesisAggs-rejects")
    assert cfg.application_name == "kinesis-aggs-consumer"
    assert (cfg.min_workers, cfg.max_capacity, cfg.baseline_workers) == (1, 4, 1)
    assert cfg.task_subnets == "public" and cfg.public_tasks
    assert (cfg.stop_timeout_seconds, cfg.shutdown_grace_millis) == (40, 25000)


def test_worker_defaults_match_the_worker() -> None:
    """The stack passes the worker's own defaults, so deploying changes no behaviour."""
    s = Settings()
    assert DEFAULTS["shutdownGraceMillis"] == s.shutdown_grace_millis == 25000
    assert DEFAULTS["windowSeconds"] == s.window_seconds
    assert DEFAULTS["initialPosition"] == s.initial_position
    assert DEFAULTS["retryMaxAttempts"] == s.retry_max_attempts
    assert DEFAULTS["retryMaxSeconds"] == s.retry_max_seconds
    assert DEFAULTS["rejectTtlDays"] == s.reject_ttl_days
    assert DEFAULTS["logLevel"] == s.log_level
    assert DEFAULTS["statsIntervalSeconds"] == s.stats_interval_seconds
    assert DEFAULTS["healthMaxAgeSeconds"] == s.health_max_age_seconds
    assert DEFAULTS["retrievalMode"] == s.retrieval_mode == "POLLING"
    assert DEFAULTS["watermarksTableName"] == s.watermarks_table == "kinesisAggs-watermarks"
    assert DEFAULTS["watermarkMarginMillis"] == s.watermark_margin_millis == 5000
    assert DEFAULTS["finalizeIntervalSeconds"] == s.finalize_interval_seconds == 10
    assert (DEFAULTS["streamName"], DEFAULTS["aggregatesTableName"], DEFAULTS["rejectsTableName"],
            DEFAULTS["applicationName"]) == (s.stream_name, s.aggregates_table, s.rejects_table,
                                             s.application_name)


def test_cdk_json_context_agrees_with_the_defaults() -> None:
    doc = json.loads((INFRA / "cdk.json").read_text())
    assert doc["app"] == "../.venv/bin/python app.py"
    for key, value in doc["context"].items():
        assert DEFAULTS[key] == value, key


def _readme_settings() -> dict[str, str]:
    text = (INFRA.parent / "docs" / "deploy-aws.md").read_text().split("## Settings", 1)[1]
    rows = re.findall(r"^\| `([A-Za-z]+)` \| `([^`]*)` \|", text, flags=re.M)
    return dict(rows)


def test_deploy_page_lists_every_setting_with_its_default() -> None:
    documented = _readme_settings()
    assert set(documented) == set(DEFAULTS)
    for key, default in DEFAULTS.items():
        shown = json.dumps(default) if default == "" else json.dumps(default).strip('"')
        assert documented[key] == shown, key


@pytest.mark.parametrize(("shards", "per_worker", "max_workers", "baseline", "ceiling"), [
    (4, 2, 0, 2, 4),
    (16, 4, 0, 4, 16),
    (16, 2, 10, 8, 10),
    (3, 2, 0, 2, 3),
    (4, 1, 0, 4, 4),     # one worker per shard, and never more
    (2, 1, 50, 2, 2),    # maxWorkers above the shard count is capped
])
def test_workers_follow_the_shards(shards: int, per_worker: int, max_workers: int, baseline: int,
                                   ceiling: int) -> None:
    cfg = from_context({"streamMode": "PROVISIONED", "shardCount": shards,
                        "shardsPerWorker": per_worker, "maxWorkers": max_workers})
    assert (cfg.baseline_workers, cfg.max_capacity) == (baseline, ceiling)
    assert cfg.max_capacity <= shards


def test_too_few_max_workers_for_the_shards() -> None:
    msg = cfg_error(streamMode="PROVISIONED", shardCount=16, shardsPerWorker=2, maxWorkers=4)
    assert "maxWorkers=4 is below ceil(shardCount 16 / shardsPerWorker 2) = 8" in msg


def test_more_min_workers_than_shards() -> None:
    assert "minWorkers=5 exceeds shardCount=4" in cfg_error(streamMode="PROVISIONED", shardCount=4,
                                                            minWorkers=5)
    assert "minWorkers=5 exceeds maxWorkers=0 (0: 4 for ON_DEMAND)" in cfg_error(minWorkers=5)


@pytest.mark.parametrize(("stop", "grace", "ok"), [
    (30, 25000, True), (28, 25000, True), (27, 25000, False), (20, 25000, False), (120, 110000, True),
])
def test_stop_timeout_must_exceed_the_shutdown_grace(stop: int, grace: int, ok: bool) -> None:
    ctx = {"stopTimeoutSeconds": stop, "shutdownGraceMillis": grace}
    if ok:
        assert from_context(ctx).stop_timeout_seconds == stop
    else:
        msg = cfg_error(**ctx)
        assert f"stopTimeoutSeconds={stop} must exceed shutdownGraceMillis={grace} + 2000 ms" in msg


def test_stop_timeout_fargate_maximum() -> None:
    assert "stopTimeoutSeconds=121: must be between 2 and 120" in cfg_error(stopTimeoutSeconds=121)


def test_cli_strings_are_coerced() -> None:
    """`cdk -c shardCount=16` arrives as a string."""
    cfg = from_context({"streamMode": "provisioned", "shardCount": "16", "pointInTimeRecovery": "false",
                        "shardsPerWorker": "4", "retryMaxSeconds": "90.5",
                        "workerEnvironment": '{"WRITE_CONCURRENCY": 8}'})
    assert (cfg.stream_mode, cfg.shard_count, cfg.point_in_time_recovery) == ("PROVISIONED", 16, False)
    assert cfg.retry_max_seconds == 90.5
    assert cfg.worker_environment == {"WRITE_CONCURRENCY": "8"}
    assert cfg.worker_environment_vars()["RETRY_MAX_SECONDS"] == "90.5"


def test_every_problem_is_reported_at_once() -> None:
    msg = cfg_error(shardcount=3, streamMode="FAST", cpu=1024, memoryMiB=1000, logRetentionDays=10,
                    streamEncryption="AES", shardCount="many")
    assert "shardcount: unknown setting (did you mean shardCount?)" in msg
    assert "streamMode='FAST': one of ON_DEMAND, PROVISIONED" in msg
    assert "memoryMiB=1000: with cpu=1024 Fargate allows 2048-8192 in steps of 1024" in msg
    assert "logRetentionDays=10: one of 1, 3, 5, 7, 14, 30" in msg
    assert "streamEncryption='AES'" in msg
    assert "shardCount='many': must be an integer" in msg


def test_tables_are_protected_unless_they_go_with_the_stack() -> None:
    """Deletion protection is on by default; removalPolicy=DESTROY with it on would make
    `cdk destroy` fail on the tables, so the synth refuses it and names both keys."""
    assert from_context({}).deletion_protection is True
    msg = cfg_error(removalPolicy="destroy")
    assert "removalPolicy=DESTROY needs deletionProtection=false" in msg
    cfg = from_context({"removalPolicy": "DESTROY", "deletionProtection": "false"})  # as -c passes them
    assert (cfg.removal_policy, cfg.deletion_protection) == ("DESTROY", False)
    assert from_context({"deletionProtection": False}).removal_policy == "RETAIN"


def test_table_encryption() -> None:
    assert from_context({}).table_encryption == "AWS_OWNED"  # DynamoDB's default: no KMS charge
    assert from_context({"tableEncryption": "customer_managed"}).table_encryption == "CUSTOMER_MANAGED"
    assert "tableEncryption='KMS': one of AWS_OWNED, AWS_MANAGED, CUSTOMER_MANAGED" in \
        cfg_error(tableEncryption="KMS")


def test_cli_and_feature_flag_keys_are_not_settings() -> None:
    cfg = from_context({"@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:enable-path-metadata": True,
                        "acknowledged-issue-numbers": [1], "vpc-provider:account=1:region=x": {}})
    assert cfg.stream_name == "input_stream"


def test_names_are_checked() -> None:
    msg = cfg_error(aggregatesTableName="x", applicationName="kinesisAggs-rejects", streamName="a b")
    assert "aggregatesTableName='x': a DynamoDB table name" in msg
    assert "applicationName names the KCL lease table: it must differ from aggregatesTableName" in msg
    assert "streamName='a b'" in msg


def test_worker_environment_is_validated_by_the_worker_rules() -> None:
    msg = cfg_error(windowSeconds=0, initialPosition="AT_TIMESTAMP",
                    workerEnvironment={"STREAM_NAME": "other", "WRITE_CONCURRENCY": "999", "bad-key": "1"})
    assert "workerEnvironment.STREAM_NAME: set by the stack" in msg
    assert "workerEnvironment.bad-key: not an environment variable name" in msg
    assert "WINDOW_SECONDS='0': must be between 1 and" in msg
    assert "INITIAL_POSITION='AT_TIMESTAMP'" in msg
    assert "WRITE_CONCURRENCY='999': must be between 1 and 64" in msg


def test_retrieval_mode() -> None:
    """POLLING by default, FANOUT on request (any case, as `cdk -c retrievalMode=fanout` may pass it),
    always passed to the worker as RETRIEVAL_MODE; anything else fails the synth, once, by its key."""
    default = from_context({})
    assert default.retrieval_mode == "POLLING" and not default.fan_out
    assert default.worker_environment_vars()["RETRIEVAL_MODE"] == "POLLING"
    for value in ("FANOUT", "fanout", " FanOut "):
        cfg = from_context({"retrievalMode": value})
        assert cfg.fan_out and cfg.worker_environment_vars()["RETRIEVAL_MODE"] == "FANOUT"
    msg = cfg_error(retrievalMode="EFO")
    assert "retrievalMode='EFO': one of POLLING, FANOUT" in msg
    assert "RETRIEVAL_MODE" not in msg  # not reported a second time by the worker's own check
    assert "retrievalmode: unknown setting (did you mean retrievalMode?)" in cfg_error(retrievalmode="FANOUT")
    msg = cfg_error(workerEnvironment={"RETRIEVAL_MODE": "FANOUT"})
    assert "workerEnvironment.RETRIEVAL_MODE: set by the stack; use its own setting instead" in msg


def test_network_options() -> None:
    assert from_context({"natGateways": 1}).task_subnets == "private"
    assert from_context({"vpcId": "vpc-0123456789abcdef0"}).task_subnets == "private"
    assert from_context({"vpcId": "vpc-0123456789abcdef0", "taskSubnets": "public"}).public_tasks
    assert "taskSubnets=private needs natGateways >= 1" in cfg_error(taskSubnets="private")
    assert "vpcId='vpc-1': a VPC id" in cfg_error(vpcId="vpc-1")
    assert "natGateways applies to a new VPC only" in cfg_error(vpcId="vpc-0123456789abcdef0", natGateways=1)


def test_scaling_thresholds() -> None:
    assert "scaleInLagSeconds=60 must be below scaleOutLagSeconds=60" in cfg_error(scaleInLagSeconds=60)
    assert "cpuTargetPercent=5: must be between 10 and 95" in cfg_error(cpuTargetPercent=5)


def test_context_sources_in_order(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps(
        {"app": "x", "context": {"shardCount": 2, "streamName": "a", "windowSeconds": 10}}))
    (tmp_path / "cdk.context.json").write_text(json.dumps({"streamName": "b"}))
    overflow = tmp_path / "overflow.json"
    overflow.write_text(json.dumps({"windowSeconds": 20}))
    env = {"CDK_CONTEXT_JSON": json.dumps({"shardCount": 3, "streamName": "c"}),
           "CONTEXT_OVERFLOW_LOCATION_ENV": str(overflow)}
    ctx = load_context(tmp_path, env, overrides={"shardCount": 4})
    assert (ctx["shardCount"], ctx["streamName"], ctx["windowSeconds"]) == (4, "c", 20)
    assert load_context(tmp_path, {})["streamName"] == "b"
    with pytest.raises(ConfigError, match="CDK_CONTEXT_JSON is not JSON"):
        load_context(tmp_path, {"CDK_CONTEXT_JSON": "{"})


def test_parse_override() -> None:
    assert parse_override("shardCount=16") == ("shardCount", 16)
    assert parse_override("streamMode=PROVISIONED") == ("streamMode", "PROVISIONED")
    assert parse_override('workerEnvironment={"A": "1"}') == ("workerEnvironment", {"A": "1"})
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("shardCount")


def test_every_log_retention_maps_to_cdk() -> None:
    from aws_cdk import aws_logs as logs
    from kinesis_aggs_infra.config import LOG_RETENTION

    assert set(LOG_RETENTION.values()) == set(logs.RetentionDays.__members__) - {"INFINITE"}



# -- final windows ------------------------------------------------------------------------------
def test_final_window_defaults() -> None:
    cfg = from_context({})
    assert (cfg.watermarks_table_name, cfg.watermark_margin_millis, cfg.finalize_interval_seconds,
            cfg.finality_lag_alarm_seconds) == ("kinesisAggs-watermarks", 5000, 10.0, 600)
    worker = cfg.worker_environment_vars()
    assert (worker["WATERMARKS_TABLE"], worker["WATERMARK_MARGIN_MILLIS"]) == \
        ("kinesisAggs-watermarks", "5000")
    assert "FINALIZE_INTERVAL_SECONDS" not in worker


def test_finalizer_environment_takes_what_the_finalizer_reads() -> None:
    """The worker's names, window, log level and metrics (workerEnvironment's too), plus its
    interval; nothing of KCL's, the health check's, the retry budget or the watermark margin."""
    cfg = from_context({"finalizeIntervalSeconds": "2.5", "watermarkMarginMillis": "0", "windowSeconds": 60,
                        "logLevel": "debug", "watermarksTableName": "trips-wm",
                        "workerEnvironment": {"AGGREGATE_SUB_ITEMS": "4", "METRICS": "off",
                                              "RETRY_BASE_MILLIS": "20", "WRITE_CONCURRENCY": "8",
                                              "REJECT_PAYLOAD_MAX_BYTES": "512"}})
    assert cfg.finalizer_environment_vars() == {
        "STREAM_NAME": "input_stream", "AGGREGATES_TABLE": "kinesisAggs",
        "REJECTS_TABLE": "kinesisAggs-rejects", "WATERMARKS_TABLE": "trips-wm",
        "APPLICATION_NAME": "kinesis-aggs-consumer", "WINDOW_SECONDS": "60", "LOG_LEVEL": "DEBUG",
        "AGGREGATE_SUB_ITEMS": "4", "METRICS": "off", "FINALIZE_INTERVAL_SECONDS": "2.5",
    }


@pytest.mark.parametrize(("ctx", "message"), [
    ({"watermarkMarginMillis": -1}, "watermarkMarginMillis=-1: must be between 0 and 3600000"),
    ({"watermarkMarginMillis": 3_600_001}, "watermarkMarginMillis=3600001: must be between 0 and 3600000"),
    ({"watermarkMarginMillis": "5s"}, "watermarkMarginMillis='5s': must be an integer"),
    ({"finalizeIntervalSeconds": 0.1}, "finalizeIntervalSeconds=0.1: must be between 0.5 and 3600"),
    ({"finalizeIntervalSeconds": 3601}, "finalizeIntervalSeconds=3601.0: must be between 0.5 and 3600"),
    ({"finalizeIntervalSeconds": "often"}, "finalizeIntervalSeconds='often': must be a number"),
    ({"finalityLagAlarmSeconds": 0}, "finalityLagAlarmSeconds=0: must be between 1 and 604800"),
    ({"finalityLagAlarmSeconds": 1.5}, "finalityLagAlarmSeconds=1.5: must be an integer"),
    ({"finalityLagAlarmSeconds": 15},
     "finalityLagAlarmSeconds=15 must exceed watermarkMarginMillis=5000 + finalizeIntervalSeconds=10 s"),
    ({"finalityLagAlarmSeconds": 120, "watermarkMarginMillis": 60_000, "finalizeIntervalSeconds": 60},
     "finalityLagAlarmSeconds=120 must exceed watermarkMarginMillis=60000 + finalizeIntervalSeconds=60 s"),
    ({"watermarksTableName": "wm"}, "watermarksTableName='wm': a DynamoDB table name"),
    ({"watermarksTableName": "kinesisAggs"}, "aggregatesTableName and watermarksTableName must differ"),
    ({"applicationName": "kinesisAggs-watermarks"},
     "applicationName names the KCL lease table: it must differ from aggregatesTableName and "
     "rejectsTableName and watermarksTableName"),
    ({"workerEnvironment": {"WATERMARKS_TABLE": "x"}},
     "workerEnvironment.WATERMARKS_TABLE: set by the stack"),
    ({"workerEnvironment": {"FINALIZE_INTERVAL_SECONDS": "1"}},
     "workerEnvironment.FINALIZE_INTERVAL_SECONDS: set by the stack"),
    ({"workerEnvironment": {"WATERMARK_MARGIN_MILLIS": "1"}},
     "workerEnvironment.WATERMARK_MARGIN_MILLIS: set by the stack"),
])
def test_final_window_settings_are_checked(ctx: dict[str, Any], message: str) -> None:
    assert message in cfg_error(**ctx)


def test_final_window_settings_are_reported_once_by_their_key() -> None:
    """The worker's own check (consumer_app.settings) would report them again by variable name."""
    msg = cfg_error(watermarkMarginMillis=-1, finalizeIntervalSeconds=0)
    assert "watermarkMarginMillis=-1" in msg and "finalizeIntervalSeconds=0.0" in msg
    assert "WATERMARK_MARGIN_MILLIS" not in msg and "FINALIZE_INTERVAL_SECONDS" not in msg
    # a finalizer variable set through workerEnvironment is checked by the worker's rules
    msg = cfg_error(workerEnvironment={"METRICS": "loud"})
    assert "worker environment: METRICS='loud': one of emf, off" in msg


@pytest.mark.parametrize(("key", "var", "lo", "hi", "step"), [
    ("watermarkMarginMillis", "WATERMARK_MARGIN_MILLIS", 0, 3_600_000, 1),
    ("finalizeIntervalSeconds", "FINALIZE_INTERVAL_SECONDS", 0.5, 3600, 0.01),
])
def test_final_window_bounds_are_the_workers(key: str, var: str, lo: float, hi: float, step: float) -> None:
    """The stack accepts exactly what the worker accepts: a value passed at synth cannot stop a task."""
    lag = {"finalityLagAlarmSeconds": 7 * 86_400}  # above any margin + interval
    for value in (lo, hi):
        from_context({key: value, **lag})
        worker_settings.from_env({var: str(value), "AWS_REGION": "eu-west-1"})
    for value in (lo - step, hi + step):
        assert f"{key}=" in cfg_error(**{key: value}, **lag)
        with pytest.raises(worker_settings.SettingsError, match=var):
            worker_settings.from_env({var: str(value), "AWS_REGION": "eu-west-1"})
