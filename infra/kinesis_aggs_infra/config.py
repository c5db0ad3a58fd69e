"""Deployment settings: read once from CDK context, checked, typed.

Plain ``python app.py`` does not read ``cdk.json`` (only the CDK CLI does), so
:func:`load_context` merges, in this order: the ``context`` of ``cdk.json``, the
lookup cache ``cdk.context.json``, the ``CDK_CONTEXT_JSON`` environment variable (the
CLI puts everything it knows there, or in a file named by ``CONTEXT_OVERFLOW_LOCATION_ENV``)
and ``python app.py -c key=value`` overrides.  :func:`from_context`
turns the result into an :class:`InfraConfig` or raises :class:`ConfigError` listing every
problem with the context key to change, so a typo fails the synth instead of the deploy.

``DEFAULTS`` is the documented list of keys (docs/deploy-aws.md "Settings" shows the same
table; a test keeps the two in step).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumer_app import settings as worker_settings

#: Where each record processor keeps its heartbeat file (``python -m consumer_app health``
#: reads them); the image's own default, set here so the task definition says it.
HEARTBEAT_DIR = "/tmp/kcl-health"
#: An on-demand stream starts with 4 shards; the worker ceiling for ON_DEMAND with maxWorkers=0.
ON_DEMAND_INITIAL_SHARDS = 4
#: Margin between the worker's graceful shutdown and ECS's SIGKILL: JVM exit, log flush.
STOP_MARGIN_MILLIS = 2000

DEFAULTS: dict[str, Any] = {
    # -- stack ----------------------------------------------------------------------
    "stackName": "KinesisAggsConsumer",
    # -- stream ---------------------------------------------------------------------
    "streamName": "input_stream",
    "streamMode": "ON_DEMAND",
    "shardCount": 4,
    "streamRetentionHours": 24,
    "streamEncryption": "MANAGED",
    # -- tables ---------------------------------------------------------------------
    "aggregatesTableName": "kinesisAggs",
    "rejectsTableName": "kinesisAggs-rejects",
    # one item per shard (its watermark) plus the finalizer's own (docs/windows.md)
    "watermarksTableName": "kinesisAggs-watermarks",
    "pointInTimeRecovery": True,
    "removalPolicy": "RETAIN",
    # DynamoDB refuses to delete a protected table, CloudFormation included: off for teardown
    "deletionProtection": True,
    # AWS_OWNED (DynamoDB's default), AWS_MANAGED (aws/dynamodb) or CUSTOMER_MANAGED (a key of
    # this stack, for the three tables: the rejects hold raw payloads)
    "tableEncryption": "AWS_OWNED",
    # -- service --------------------------------------------------------------------
    "applicationName": "kinesis-aggs-consumer",
    "cpu": 1024,
    "memoryMiB": 2048,
    "cpuArchitecture": "X86_64",
    "minWorkers": 1,
    "maxWorkers": 0,
    "shardsPerWorker": 2,
    "logRetentionDays": 30,
    "stopTimeoutSeconds": 40,
    # -- the worker's environment (consumer_app/settings.py) ---------------------------
    "shutdownGraceMillis": 25000,
    "windowSeconds": 30,
    "initialPosition": "TRIM_HORIZON",
    "retryMaxAttempts": 50,
    "retryMaxSeconds": 120.0,
    "rejectTtlDays": 14,
    "logLevel": "INFO",
    "statsIntervalSeconds": 30.0,
    "healthMaxAgeSeconds": 180.0,
    # POLLING (GetRecords) or FANOUT (enhanced fan-out: KCL registers a stream consumer named
    # after applicationName; the task role then gets the fan-out actions on it only)
    "retrievalMode": "POLLING",
    # how far behind its newest applied record a shard's published watermark stays
    "watermarkMarginMillis": 5000,
    "workerEnvironment": {},
    # -- the finalizer (python -m consumer_app finalize: one task marks windows final) ----
    "finalizeIntervalSeconds": 10.0,
    # -- scaling --------------------------------------------------------------------
    "scaleOutLagSeconds": 60,
    "scaleInLagSeconds": 5,
    "cpuTargetPercent": 70,
    "scaleOutCooldownSeconds": 120,
    "scaleInCooldownSeconds": 900,
    # -- network --------------------------------------------------------------------
    "vpcId": "",
    "natGateways": 0,
    "maxAzs": 2,
    "taskSubnets": "auto",
    # -- observability --------------------------------------------------------------
    "iteratorAgeAlarmSeconds": 300,
    "throttleAlarmMinutes": 5,
    # rejects (EMF RejectedRecords, all reasons) above this share of the records read, every
    # minute for 5 minutes: a producer gone wrong
    "rejectsAlarmPercent": 5.0,
    "tasksBelowDesiredMinutes": 10,
    # the finalizer's GlobalWatermarkLag (now - global watermark) above this, 3 x 5 minutes
    "finalityLagAlarmSeconds": 600,
    # a shard blocked (its flush not durable after a whole retry budget) for this long
    "blockedShardAlarmSeconds": 300,
    "alarmTopicArn": "",
}

#: Environment variables the stack sets itself; ``workerEnvironment`` may not override them.
MANAGED_ENV = (
    "STREAM_NAME", "AGGREGATES_TABLE", "REJECTS_TABLE", "APPLICATION_NAME", "KCL_PROFILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "HEARTBEAT_DIR", "HEALTH_MAX_AGE_SECONDS", "SHUTDOWN_GRACE_MILLIS",
    "WINDOW_SECONDS", "INITIAL_POSITION", "RETRY_MAX_ATTEMPTS", "RETRY_MAX_SECONDS",
    "REJECT_TTL_DAYS", "LOG_LEVEL", "STATS_INTERVAL_SECONDS", "RETRIEVAL_MODE",
    "WATERMARKS_TABLE", "WATERMARK_MARGIN_MILLIS", "FINALIZE_INTERVAL_SECONDS",
    "KINESIS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB",
)

#: The worker's variables that the finalizer (consumer_app/finality.py) reads too, whether
#: the stack sets them or ``workerEnvironment`` does: the names, the window layout, logging
#: and metrics.  Not KCL's, the health check's, the retry budget (its clients retry the
#: botocore way) or the watermark margin (the processors apply it).  REJECTS_TABLE is there
#: although the finalizer never touches that table: both processes check the table names
#: against each other (consumer_app.settings.naming_problems), so they must see the same.
FINALIZER_ENV = (
    "STREAM_NAME", "AGGREGATES_TABLE", "REJECTS_TABLE", "WATERMARKS_TABLE", "APPLICATION_NAME",
    "WINDOW_SECONDS", "AGGREGATE_SUB_ITEMS", "LOG_LEVEL", "METRICS",
)
#: Context keys checked by :func:`_check` itself -> their variable, which the worker's own
#: check then skips when the key is wrong (one message per mistake, naming the key).
CHECKED_BY_KEY = {"retrievalMode": "RETRIEVAL_MODE", "watermarkMarginMillis": "WATERMARK_MARGIN_MILLIS",
                  "finalizeIntervalSeconds": "FINALIZE_INTERVAL_SECONDS"}

#: tableEncryption: DynamoDB's own key (no KMS charge), the account's aws/dynamodb, or a key of the stack.
TABLE_ENCRYPTIONS = ("AWS_OWNED", "AWS_MANAGED", "CUSTOMER_MANAGED")

#: CloudWatch Logs retention periods (days) that the service accepts -> CDK's enum member.
LOG_RETENTION: dict[int, str] = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}
LOG_RETENTION_DAYS = tuple(LOG_RETENTION)

#: Fargate task sizes: CPU units -> allowed memory (MiB).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

_STACK = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_VPC = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_ENV_KEY = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_OUR_KEY = re.compile(r"^[a-z][A-Za-z0-9]*$")  # other keys (feature flags, lookups) are the CLI's


class ConfigError(ValueError):
    """The CDK context has one or more bad settings; the message names each key."""


@dataclass(frozen=True)
class InfraConfig:
    """Typed settings; field names are the context keys in snake_case."""

    stack_name: str
    stream_name: str
    stream_mode: str
    shard_count: int
    stream_retention_hours: int
    stream_encryption: str
    aggregates_table_name: str
    rejects_table_name: str
    watermarks_table_name: str
    point_in_time_recovery: bool
    removal_policy: str
    deletion_protection: bool
    table_encryption: str
    application_name: str
    cpu: int
    memory_mib: int
    cpu_architecture: str
    min_workers: int
    max_workers: int
    shards_per_worker: int
    log_retention_days: int
    stop_timeout_seconds: int
    shutdown_grace_millis: int
    window_seconds: int
    initial_position: str
    retry_max_attempts: int
    retry_max_seconds: float
    reject_ttl_days: int
    log_level: str
    stats_interval_seconds: float
    health_max_age_seconds: float
    retrieval_mode: str
    watermark_margin_millis: int
    worker_environment: dict[str, str]
    finalize_interval_seconds: float
    scale_out_lag_seconds: int
    scale_in_lag_seconds: int
    cpu_target_percent: int
    scale_out_cooldown_seconds: int
    scale_in_cooldown_seconds: int
    vpc_id: str
    nat_gateways: int
    max_azs: int
    task_subnets: str
    iterator_age_alarm_seconds: int
    throttle_alarm_minutes: int
    rejects_alarm_percent: float
    tasks_below_desired_minutes: int
    finality_lag_alarm_seconds: int
    blocked_shard_alarm_seconds: int
    alarm_topic_arn: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    # -- derived values -------------------------------------------------------------
    @property
    def provisioned(self) -> bool:
        return self.stream_mode == "PROVISIONED"

    @property
    def fan_out(self) -> bool:
        """Enhanced fan-out: the workers subscribe to the shards through a registered consumer."""
        return self.retrieval_mode == "FANOUT"

    @property
    def public_tasks(self) -> bool:
        """Tasks in public subnets need a public IP to reach ECR, Kinesis and DynamoDB."""
        return self.task_subnets == "public"

    @property
    def baseline_workers(self) -> int:
        """Workers for the known shards: ceil(shards / shards per worker) within the bounds."""
        if not self.provisioned:
            return self.min_workers
        return max(self.min_workers, math.ceil(self.shard_count / self.shards_per_worker))

    @property
    def max_capacity(self) -> int:
        """maxWorkers, or (0) automatic; never more workers than shards, which would hold no lease."""
        if not self.provisioned:
            return self.max_workers or ON_DEMAND_INITIAL_SHARDS
        return min(self.max_workers or self.shard_count, self.shard_count)

    def worker_environment_vars(self) -> dict[str, str]:
        """The container's environment without the region (a CloudFormation token)."""
        env = {
            "STREAM_NAME": self.stream_name,
            "AGGREGATES_TABLE": self.aggregates_table_name,
            "REJECTS_TABLE": self.rejects_table_name,
            "APPLICATION_NAME": self.application_name,
            "KCL_PROFILE": "aws",
            "HEARTBEAT_DIR": HEARTBEAT_DIR,
            "HEALTH_MAX_AGE_SECONDS": _num(self.health_max_age_seconds),
            "SHUTDOWN_GRACE_MILLIS": str(self.shutdown_grace_millis),
            "WINDOW_SECONDS": str(self.window_seconds),
            "INITIAL_POSITION": self.initial_position,
            "RETRY_MAX_ATTEMPTS": str(self.retry_max_attempts),
            "RETRY_MAX_SECONDS": _num(self.retry_max_seconds),
            "REJECT_TTL_DAYS": str(self.reject_ttl_days),
            "LOG_LEVEL": self.log_level,
            "STATS_INTERVAL_SECONDS": _num(self.stats_interval_seconds),
            "RETRIEVAL_MODE": self.retrieval_mode,
            "WATERMARKS_TABLE": self.watermarks_table_name,
            "WATERMARK_MARGIN_MILLIS": str(self.watermark_margin_millis),
        }
        env.update(self.worker_environment)
        return env

    def finalizer_environment_vars(self) -> dict[str, str]:
        """The finalizer's environment without the region: the worker's that it reads, and its pace."""
        env = {k: v for k, v in self.worker_environment_vars().items() if k in FINALIZER_ENV}
        env["FINALIZE_INTERVAL_SECONDS"] = _num(self.finalize_interval_seconds)
        return env


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def load_context(infra_dir: Path, environ: Mapping[str, str] | None = None,
                 overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The one place context is gathered: cdk.json, cdk.context.json, the CLI's, then -c."""
    environ = os.environ if environ is None else environ
    ctx: dict[str, Any] = {}
    for name in ("cdk.json", "cdk.context.json"):
        path = infra_dir / name
        if path.is_file():
            doc = json.loads(path.read_text())
            ctx.update(doc.get("context", {}) if name == "cdk.json" else doc)
    overflow = environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")  # the CLI's file for a large context
    if overflow:
        ctx.update(json.loads(Path(overflow).read_text()))
    raw = environ.get("CDK_CONTEXT_JSON")
    if raw:
        try:
            ctx.update(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"CDK_CONTEXT_JSON is not JSON: {exc}") from None
    ctx.update(overrides or {})
    return ctx


def parse_override(item: str) -> tuple[str, Any]:
    """``key=value`` as on the CDK CLI; the value is JSON if it parses, else a string."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"-c {item!r}: expected key=value")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("mi_b", "mib")


_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _coerce(key: str, value: Any, default: Any, problems: list[str]) -> Any:
    """The CLI passes ``-c key=value`` as strings: convert to the default's type."""
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            word = str(value).strip().lower()
            if word in _BOOL_WORDS:
                return _BOOL_WORDS[word]
            raise ValueError
        if isinstance(default, int):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, dict):
            doc = json.loads(value) if isinstance(value, str) else value
            if not isinstance(doc, dict):
                raise ValueError
            return doc
        return "" if value is None else str(value).strip()
    except (ValueError, TypeError, json.JSONDecodeError):
        kind = {bool: "true or false", int: "an integer", float: "a number",
                dict: "a JSON object"}.get(type(default), "a string")
        problems.append(f"{key}={value!r}: must be {kind}")
        return default


def from_context(ctx: Mapping[str, Any]) -> InfraConfig:
    """Validate the context against :data:`DEFAULTS`; raise :class:`ConfigError` on problems."""
    problems: list[str] = []
    unknown = sorted(k for k in ctx if _OUR_KEY.match(k) and k not in DEFAULTS)
    for key in unknown:
        close = [k for k in DEFAULTS if k.lower() == key.lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{key}: unknown setting{hint}; see docs/deploy-aws.md, 'Settings'")
    values = {_camel_to_snake(k): _coerce(k, ctx.get(k, d), d, problems) for k, d in DEFAULTS.items()}
    for key in ("stream_mode", "stream_encryption", "removal_policy", "table_encryption",
                "cpu_architecture", "initial_position", "log_level", "retrieval_mode"):
        values[key] = values[key].upper()
    values["task_subnets"] = values["task_subnets"].lower()
    env = values["worker_environment"]
    values["worker_environment"] = {str(k): str(v) for k, v in env.items()}
    if values["task_subnets"] == "auto":
        values["task_subnets"] = "public" if not values["vpc_id"] and values["nat_gateways"] == 0 \
            else "private"
    cfg = InfraConfig(**values, extra={k: v for k, v in ctx.items() if k not in DEFAULTS})
    problems += _check(cfg)
    if problems:
        raise ConfigError("invalid CDK context (docs/deploy-aws.md, 'Settings'):\n  - "
                          + "\n  - ".join(problems))
    return cfg


def _one_of(problems: list[str], key: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        problems.append(f"{key}={value!r}: one of {', '.join(map(str, allowed))}")


def _between(problems: list[str], key: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        problems.append(f"{key}={value!r}: must be between {_num(lo)} and {_num(hi)}")


def _check(c: InfraConfig) -> list[str]:
    p: list[str] = []
    if not _STACK.match(c.stack_name):
        p.append(f"stackName={c.stack_name!r}: letters, digits and '-', starting with a letter")
    # names: the worker's own rules, so that both accept the same names
    p += worker_settings.naming_problems(
        ("streamName", c.stream_name),
        [("aggregatesTableName", c.aggregates_table_name), ("rejectsTableName", c.rejects_table_name),
         ("watermarksTableName", c.watermarks_table_name)],
        ("applicationName", c.application_name))
    # stream
    _one_of(p, "streamMode", c.stream_mode, ("ON_DEMAND", "PROVISIONED"))
    _between(p, "shardCount", c.shard_count, 1, 500)
    _between(p, "streamRetentionHours", c.stream_retention_hours, 24, 8760)
    _one_of(p, "streamEncryption", c.stream_encryption, ("MANAGED", "KMS"))
    # tables
    _one_of(p, "removalPolicy", c.removal_policy, ("RETAIN", "DESTROY"))
    _one_of(p, "tableEncryption", c.table_encryption, TABLE_ENCRYPTIONS)
    if c.removal_policy == "DESTROY" and c.deletion_protection:
        p.append("removalPolicy=DESTROY needs deletionProtection=false: CloudFormation cannot delete a "
                 "table with deletion protection on, so `cdk destroy` would fail on the tables (deploy "
                 "with both -c removalPolicy=DESTROY -c deletionProtection=false, then destroy)")
    # service
    if c.cpu not in FARGATE_MEMORY:
        p.append(f"cpu={c.cpu}: one of {', '.join(map(str, FARGATE_MEMORY))}")
    elif c.memory_mib not in FARGATE_MEMORY[c.cpu]:
        allowed = FARGATE_MEMORY[c.cpu]
        p.append(f"memoryMiB={c.memory_mib}: with cpu={c.cpu} Fargate allows {allowed[0]}-{allowed[-1]} "
                 f"in steps of {allowed[1] - allowed[0]}")
    _one_of(p, "cpuArchitecture", c.cpu_architecture, ("X86_64", "ARM64"))
    _between(p, "minWorkers", c.min_workers, 1, 1000)
    _between(p, "maxWorkers", c.max_workers, 0, 1000)
    _between(p, "shardsPerWorker", c.shards_per_worker, 1, 500)
    if c.provisioned and c.min_workers > c.shard_count:
        p.append(f"minWorkers={c.min_workers} exceeds shardCount={c.shard_count}: a worker "
                 "without a shard holds no lease")
    elif c.min_workers > c.max_capacity:
        auto = "" if c.max_workers else f" (0: {c.max_capacity} for {c.stream_mode})"
        p.append(f"minWorkers={c.min_workers} exceeds maxWorkers={c.max_workers}{auto}")
    if c.provisioned and c.max_workers:
        need = math.ceil(c.shard_count / c.shards_per_worker)
        if need > c.max_workers:
            p.append(f"maxWorkers={c.max_workers} is below ceil(shardCount {c.shard_count} / "
                     f"shardsPerWorker {c.shards_per_worker}) = {need}: raise maxWorkers or "
                     "shardsPerWorker")
    _one_of(p, "logRetentionDays", c.log_retention_days, LOG_RETENTION_DAYS)
    _between(p, "stopTimeoutSeconds", c.stop_timeout_seconds, 2, 120)
    _between(p, "shutdownGraceMillis", c.shutdown_grace_millis, 1000, 118_000)
    _one_of(p, "retrievalMode", c.retrieval_mode, worker_settings.RETRIEVAL_MODES)
    # final windows (the worker's own bounds, consumer_app/settings.py)
    _between(p, "watermarkMarginMillis", c.watermark_margin_millis, 0, 3_600_000)
    _between(p, "finalizeIntervalSeconds", c.finalize_interval_seconds, 0.5, 3600)
    if c.stop_timeout_seconds * 1000 <= c.shutdown_grace_millis + STOP_MARGIN_MILLIS:
        p.append(f"stopTimeoutSeconds={c.stop_timeout_seconds} must exceed shutdownGraceMillis="
                 f"{c.shutdown_grace_millis} + {STOP_MARGIN_MILLIS} ms: ECS would kill the worker "
                 "before its final checkpoint (raise stopTimeoutSeconds, max 120, or lower the grace)")
    for key in c.worker_environment:
        if not _ENV_KEY.match(key):
            p.append(f"workerEnvironment.{key}: not an environment variable name")
        elif key in MANAGED_ENV:
            p.append(f"workerEnvironment.{key}: set by the stack; use its own setting instead")
    p += _check_worker_env(c, p)
    # scaling
    _between(p, "cpuTargetPercent", c.cpu_target_percent, 10, 95)
    _between(p, "scaleOutLagSeconds", c.scale_out_lag_seconds, 1, 86_400)
    _between(p, "scaleInLagSeconds", c.scale_in_lag_seconds, 1, 86_400)
    if c.scale_in_lag_seconds >= c.scale_out_lag_seconds:
        p.append(f"scaleInLagSeconds={c.scale_in_lag_seconds} must be below "
                 f"scaleOutLagSeconds={c.scale_out_lag_seconds}")
    _between(p, "scaleOutCooldownSeconds", c.scale_out_cooldown_seconds, 0, 86_400)
    _between(p, "scaleInCooldownSeconds", c.scale_in_cooldown_seconds, 0, 86_400)
    # network
    if c.vpc_id and not _VPC.match(c.vpc_id):
        p.append(f"vpcId={c.vpc_id!r}: a VPC id such as vpc-0123456789abcdef0")
    _between(p, "natGateways", c.nat_gateways, 0, 3)
    _between(p, "maxAzs", c.max_azs, 1, 6)
    if c.vpc_id and c.nat_gateways:
        p.append("natGateways applies to a new VPC only: drop it or drop vpcId")
    _one_of(p, "taskSubnets", c.task_subnets, ("public", "private"))
    if not c.vpc_id and c.nat_gateways == 0 and c.task_subnets == "private":
        p.append("taskSubnets=private needs natGateways >= 1 (a new VPC without NAT has public "
                 "subnets only)")
    # observability
    _between(p, "iteratorAgeAlarmSeconds", c.iterator_age_alarm_seconds, 1, 7 * 86_400)
    _between(p, "throttleAlarmMinutes", c.throttle_alarm_minutes, 1, 1440)
    if not 0 < c.rejects_alarm_percent <= 100:
        p.append(f"rejectsAlarmPercent={c.rejects_alarm_percent!r}: must be above 0 and at most 100")
    _between(p, "tasksBelowDesiredMinutes", c.tasks_below_desired_minutes, 1, 1440)
    _between(p, "finalityLagAlarmSeconds", c.finality_lag_alarm_seconds, 1, 7 * 86_400)
    floor_ms = c.watermark_margin_millis + c.finalize_interval_seconds * 1000
    if c.finality_lag_alarm_seconds * 1000 <= floor_ms:
        p.append(f"finalityLagAlarmSeconds={c.finality_lag_alarm_seconds} must exceed "
                 f"watermarkMarginMillis={c.watermark_margin_millis} + finalizeIntervalSeconds="
                 f"{_num(c.finalize_interval_seconds)} s: the global watermark trails the newest records "
                 "by the margin at least and is read once per pass, so a lower threshold alarms on a "
                 "healthy consumer")
    _between(p, "blockedShardAlarmSeconds", c.blocked_shard_alarm_seconds, 1, 86_400)
    if c.alarm_topic_arn and not _SNS_ARN.match(c.alarm_topic_arn):
        p.append(f"alarmTopicArn={c.alarm_topic_arn!r}: an SNS topic ARN")
    return p


def _check_worker_env(c: InfraConfig, found: list[str]) -> list[str]:
    """The worker's own validation (consumer_app.settings) of the worker's and the finalizer's
    environment, so a bad value fails here, not on ECS.  ``found``: the problems so far."""
    env = {**c.worker_environment_vars(), **c.finalizer_environment_vars(), "AWS_REGION": "us-east-1"}
    for key, var in CHECKED_BY_KEY.items():
        if any(problem.startswith(f"{key}=") for problem in found):
            env.pop(var)  # reported once, by its context key
    try:
        worker_settings.from_env(env)
    except worker_settings.SettingsError as exc:
        lines = [ln.strip(" -") for ln in str(exc).splitlines()[1:]]
        return [f"worker environment: {ln}" for ln in lines if ln]
    return []
