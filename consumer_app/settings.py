"""Worker settings from environment variables, validated once at start.

Every setting has a documented default (docs/configuration.md); a wrong value stops
the worker at start with a message that names the variable, the value and what is
allowed, instead of failing later inside the JVM or a child process.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from consumer_app.rules.leases import POSITIONS, TRIM_HORIZON
from consumer_app.rules.retry import (
    DEFAULT_BASE_DELAY_MILLIS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_DELAY_MILLIS,
    DEFAULT_MAX_ELAPSED_S,
    RetryPolicy,
)
from consumer_app.rules.sub_items import MAX_SUB_ITEMS
from consumer_app.rules.windows import MAX_WINDOW_SECONDS
from consumer_app.tables import watermarks_table_for


class SettingsError(ValueError):
    """One or more settings are wrong; the message lists each problem."""


_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_STREAM = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_APP = re.compile(r"^[A-Za-z0-9_.-]{3,200}$")  # it names the lease table: 3 characters at least
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_URL = re.compile(r"^https?://[^\s/]+(/.*)?$")
PROFILES = ("aws", "local")
#: INITIAL_POSITION: the positions a bootstrapped lease can start from (rules/leases.py)
INITIAL_POSITIONS = POSITIONS
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: LEASE_BOOTSTRAP: auto = on for the local profile, off for aws (docs/configuration.md)
LEASE_BOOTSTRAPS = ("auto", "on", "off")
#: RETRIEVAL_MODE: KCL polling (GetRecords) or enhanced fan-out (SubscribeToShard)
RETRIEVAL_MODES = ("POLLING", "FANOUT")
#: METRICS: the processors' counters as EMF lines on stderr (docs/metrics.md), or none
METRICS_MODES = ("emf", "off")
#: the stream of the workshop this consumer replaces (the producer's default too)
DEFAULT_STREAM = "input_stream"
ON_OFF = ("on", "off")
#: The checkout (or the installed package's parent): the JVM launch paths default below it.
REPO_ROOT = Path(__file__).resolve().parents[1]
#: KCL_CDS_ARCHIVE: where ``make setup`` builds the JVM's class-data archive
DEFAULT_CDS_ARCHIVE = REPO_ROOT / "build" / "launcher" / "kcl-classes.jsa"


@dataclass(frozen=True)
class Settings:
    """The worker's configuration; field docs double as the configuration table in docs/configuration.md."""

    stream_name: str = DEFAULT_STREAM
    aggregates_table: str = "kinesisAggs"
    rejects_table: str = "kinesisAggs-rejects"
    application_name: str = "kinesis-aggs-consumer"
    region: str = ""
    kinesis_endpoint: str | None = None
    dynamodb_endpoint: str | None = None
    profile: str = "aws"
    window_seconds: int = 30
    initial_position: str = TRIM_HORIZON
    retry_max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_max_seconds: float = DEFAULT_MAX_ELAPSED_S
    retry_base_millis: int = DEFAULT_BASE_DELAY_MILLIS
    retry_max_delay_millis: int = DEFAULT_MAX_DELAY_MILLIS
    write_concurrency: int = 4
    shutdown_grace_millis: int = 25_000
    worker_id: str = ""
    log_level: str = "INFO"
    stats_interval_seconds: float = 30.0
    reject_ttl_days: int = 14
    reject_payload_max_bytes: int = 2048
    heartbeat_dir: str | None = None
    health_max_age_seconds: float = 180.0
    lease_bootstrap: str = "auto"
    flush_interval_millis: int = 1000
    aggregate_sub_items: int = 1
    metrics: str = "emf"
    metrics_shard_dimension: str = "off"
    retrieval_mode: str = "POLLING"
    watermarks_table: str = ""  # "": <aggregates_table>-watermarks
    watermark_margin_millis: int = 5000
    finalize_interval_seconds: float = 10.0
    # -- how ``python -m consumer_app run`` starts the JVM (consumer_app/worker.py) ----------
    #: JAVA_HOME: java from ``$JAVA_HOME/bin`` if it is there, else from PATH
    java_home: str = ""
    #: JAVA_OPTS: the JVM flags, split as a shell would.  None (unset): the worker's defaults
    #: for the profile (worker.DEFAULT_JAVA_OPTS); set, even empty, it replaces them.
    java_opts: str | None = None
    # Plumbing rather than tuning: the image (Dockerfile) and devkit's workers set these to
    # where they put things; the defaults are the checkout's own layout after `make setup`.
    #: KCL_PROPERTIES_DIR: base.properties, <profile>.properties and logback.xml
    properties_dir: Path = REPO_ROOT / "properties"
    #: KCL_JARS_DIR: the daemon's jars (build/jars, resolved by Maven)
    jars_dir: Path = REPO_ROOT / "build" / "jars"
    #: KCL_LAUNCHER_JAR: the worker launcher (launcher/src), first on the classpath
    launcher_jar: Path = REPO_ROOT / "build" / "launcher" / "kinesis-aggs-launcher.jar"
    #: KCL_CDS_ARCHIVE: the JVM class-data archive, used when the file exists; None (set
    #: empty): never
    cds_archive: Path | None = DEFAULT_CDS_ARCHIVE
    #: KCL_RUN_DIR: where the rendered consumer.properties goes; None: a new temporary directory
    run_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.watermarks_table:  # the aggregates' companion, like their rejects table
            object.__setattr__(self, "watermarks_table", watermarks_table_for(self.aggregates_table))

    @property
    def bootstraps_leases(self) -> bool:
        """Pre-create KCL's lease table rows before the JVM starts (consumer_app.dynamo.lease_table)."""
        if self.lease_bootstrap == "auto":
            return self.profile == "local"
        return self.lease_bootstrap == "on"

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.retry_max_attempts,
            max_elapsed_s=self.retry_max_seconds,
            base_delay_s=self.retry_base_millis / 1000,
            max_delay_s=self.retry_max_delay_millis / 1000,
        )


#: The JVM launch settings (consumer_app/worker.py): environment variable -> Settings field.
#: :func:`jvm_from_env` reads these alone, for tools that build the worker's JVM command.
JVM_VARS: dict[str, str] = {
    "JAVA_HOME": "java_home",
    "JAVA_OPTS": "java_opts",
    "KCL_PROPERTIES_DIR": "properties_dir",
    "KCL_JARS_DIR": "jars_dir",
    "KCL_LAUNCHER_JAR": "launcher_jar",
    "KCL_CDS_ARCHIVE": "cds_archive",
    "KCL_RUN_DIR": "run_dir",
}
#: environment variable -> Settings field
ENV_VARS: dict[str, str] = {
    "STREAM_NAME": "stream_name",
    "AGGREGATES_TABLE": "aggregates_table",
    "REJECTS_TABLE": "rejects_table",
    "APPLICATION_NAME": "application_name",
    "KCL_PROFILE": "profile",
    "WINDOW_SECONDS": "window_seconds",
    "INITIAL_POSITION": "initial_position",
    "RETRY_MAX_ATTEMPTS": "retry_max_attempts",
    "RETRY_MAX_SECONDS": "retry_max_seconds",
    "RETRY_BASE_MILLIS": "retry_base_millis",
    "RETRY_MAX_DELAY_MILLIS": "retry_max_delay_millis",
    "WRITE_CONCURRENCY": "write_concurrency",
    "SHUTDOWN_GRACE_MILLIS": "shutdown_grace_millis",
    "WORKER_ID": "worker_id",
    "LOG_LEVEL": "log_level",
    "STATS_INTERVAL_SECONDS": "stats_interval_seconds",
    "REJECT_TTL_DAYS": "reject_ttl_days",
    "REJECT_PAYLOAD_MAX_BYTES": "reject_payload_max_bytes",
    "HEARTBEAT_DIR": "heartbeat_dir",
    "HEALTH_MAX_AGE_SECONDS": "health_max_age_seconds",
    "LEASE_BOOTSTRAP": "lease_bootstrap",
    "FLUSH_INTERVAL_MILLIS": "flush_interval_millis",
    "AGGREGATE_SUB_ITEMS": "aggregate_sub_items",
    "METRICS": "metrics",
    "METRICS_SHARD_DIMENSION": "metrics_shard_dimension",
    "RETRIEVAL_MODE": "retrieval_mode",
    "WATERMARKS_TABLE": "watermarks_table",
    "WATERMARK_MARGIN_MILLIS": "watermark_margin_millis",
    "FINALIZE_INTERVAL_SECONDS": "finalize_interval_seconds",
    **JVM_VARS,
}

_INT_RANGES: dict[str, tuple[int, int]] = {
    "window_seconds": (1, MAX_WINDOW_SECONDS),
    "retry_max_attempts": (1, 1000),
    "retry_base_millis": (1, 60_000),
    "retry_max_delay_millis": (1, 600_000),
    "write_concurrency": (1, 64),
    "shutdown_grace_millis": (1000, 600_000),
    "reject_ttl_days": (1, 3650),
    "reject_payload_max_bytes": (64, 300_000),
    "flush_interval_millis": (0, 300_000),
    "aggregate_sub_items": (1, MAX_SUB_ITEMS),
    "watermark_margin_millis": (0, 3_600_000),
}
_FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "retry_max_seconds": (1.0, 86_400.0),
    "stats_interval_seconds": (0.5, 3600.0),
    "health_max_age_seconds": (5.0, 86_400.0),
    "finalize_interval_seconds": (0.5, 3600.0),
}
_PATHS = frozenset({"properties_dir", "jars_dir", "launcher_jar", "cds_archive", "run_dir"})
#: Set but blank is a value here, not the default: no JVM flags at all, no class-data archive.
_BLANK: dict[str, Any] = {"java_opts": "", "cds_archive": None}


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise :class:`SettingsError` listing every problem."""
    env = os.environ if env is None else env
    problems: list[str] = []
    values = _read(env, ENV_VARS, problems)

    region = (env.get("AWS_REGION") or "").strip() or (env.get("AWS_DEFAULT_REGION") or "").strip()
    if not region:
        problems.append("AWS_REGION is not set (the Java SDK in the KCL reads AWS_REGION)")
    elif not _REGION.match(region):
        problems.append(f"AWS_REGION={region!r}: not a region name such as eu-west-1")
    values["region"] = region

    general = (env.get("AWS_ENDPOINT_URL") or "").strip() or None
    for var, name in (("AWS_ENDPOINT_URL_KINESIS", "kinesis_endpoint"),
                      ("AWS_ENDPOINT_URL_DYNAMODB", "dynamodb_endpoint")):
        own = (env.get(var) or "").strip()
        url = own or general
        if url is not None and not _URL.match(url):
            source = var if own else "AWS_ENDPOINT_URL"
            problems.append(f"{source}={url!r}: not an http(s) URL")
        values[name] = url

    s = Settings(**values)
    problems += _check(s)
    if problems:
        raise SettingsError("invalid settings:\n  - " + "\n  - ".join(problems))
    if not s.worker_id:
        s = Settings(**{**values, "worker_id": default_worker_id()})
    return s


#: the exit status of a command whose settings are invalid
EXIT_SETTINGS = 2


def from_env_or_exit(command: str) -> Settings:
    """The settings, or exit with :data:`EXIT_SETTINGS` after saying on stderr, under the
    command's name, every problem found: one way for every command to refuse bad settings."""
    try:
        return from_env()
    except SettingsError as exc:
        sys.stderr.write(f"{command}: {exc}\n")
        raise SystemExit(EXIT_SETTINGS) from None


def jvm_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """The JVM launch settings (:data:`JVM_VARS`) alone, every other field at its default.

    For tools that build the worker's JVM command line outside a run, where no region or
    stream is set (``devkit.local.class_archive``); a worker reads :func:`from_env`.
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    s = Settings(**_read(env, JVM_VARS, problems))
    problems += _check_jvm(s)
    if problems:
        raise SettingsError("invalid settings:\n  - " + "\n  - ".join(problems))
    return s


def _read(env: Mapping[str, str], names: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """The set variables of ``names`` as typed field values; what cannot be read goes to ``problems``."""
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(Settings)}
    for var, name in names.items():
        raw = env.get(var)
        if raw is None:
            continue
        if raw.strip() == "":
            if name in _BLANK:
                values[name] = _BLANK[name]
            continue
        raw = raw.strip()
        if name in _INT_RANGES or name in _FLOAT_RANGES:
            number, what, (lo, hi) = ((int, "an integer", _INT_RANGES[name]) if name in _INT_RANGES
                                      else (float, "a number", _FLOAT_RANGES[name]))
            try:
                val: Any = number(raw)
            except ValueError:
                problems.append(f"{var}={raw!r}: not {what}")
                continue
            if not lo <= val <= hi:
                show = str if number is int else "{:g}".format
                problems.append(f"{var}={raw!r}: must be between {show(lo)} and {show(hi)}")
                continue
        elif name in _PATHS:
            val = Path(raw)
        else:
            assert "str" in str(types[name])
            val = raw
        values[name] = val
    return values


def default_worker_id() -> str:
    """``<hostname>-<pid>-<random>``: unique per process even where hostname and pid repeat.

    With ``docker run --network host`` every container has the host's hostname and a
    small, nearly fixed pid, so ``<hostname>-<pid>`` alone can name two workers alike.
    """
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


Labelled = tuple[str, str]  # (the setting's name where the user wrote it, its value)


def naming_problems(stream: Labelled, tables: list[Labelled], application: Labelled) -> list[str]:
    """The AWS naming rules for the stream, the tables and the KCL application.

    Shared by the worker (environment variables) and the CDK app (context keys), so that a
    name one accepts the other accepts too.  The application name names the lease table,
    so it must differ from every table, and the tables from each other.
    """
    problems = []
    if not _STREAM.match(stream[1]):
        problems.append(f"{stream[0]}={stream[1]!r}: 1-128 characters of A-Z a-z 0-9 _ . -")
    for label, name in tables:
        if not _NAME.match(name):
            problems.append(f"{label}={name!r}: a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)")
    for i, (label, name) in enumerate(tables):
        for other, other_name in tables[i + 1:]:
            if name == other_name:
                problems.append(f"{label} and {other} must differ")
    if not _APP.match(application[1]):
        problems.append(f"{application[0]}={application[1]!r}: 3-200 of A-Z a-z 0-9 _ . - "
                        "(it names the KCL lease table)")
    if application[1] in [name for _, name in tables]:
        problems.append(f"{application[0]} names the KCL lease table: it must differ from "
                        f"{' and '.join(label for label, _ in tables)}")
    return problems


def _check(s: Settings) -> list[str]:
    problems = naming_problems(("STREAM_NAME", s.stream_name),
                               [("AGGREGATES_TABLE", s.aggregates_table), ("REJECTS_TABLE", s.rejects_table),
                                ("WATERMARKS_TABLE", s.watermarks_table)],
                               ("APPLICATION_NAME", s.application_name))
    for var, value, allowed in (
        ("KCL_PROFILE", s.profile, PROFILES),
        ("INITIAL_POSITION", s.initial_position, INITIAL_POSITIONS),
        ("LEASE_BOOTSTRAP", s.lease_bootstrap, LEASE_BOOTSTRAPS),
        ("RETRIEVAL_MODE", s.retrieval_mode, RETRIEVAL_MODES),
        ("METRICS", s.metrics, METRICS_MODES),
        ("METRICS_SHARD_DIMENSION", s.metrics_shard_dimension, ON_OFF),
    ):
        if value not in allowed:
            problems.append(f"{var}={value!r}: one of {', '.join(allowed)}")
    if s.log_level.upper() not in LOG_LEVELS:  # any case: logging takes it upper-cased
        problems.append(f"LOG_LEVEL={s.log_level!r}: one of {', '.join(LOG_LEVELS)}")
    if s.retry_max_delay_millis < s.retry_base_millis:
        problems.append("RETRY_MAX_DELAY_MILLIS must be >= RETRY_BASE_MILLIS")
    if s.worker_id and not re.match(r"^[A-Za-z0-9_.:@-]{1,200}$", s.worker_id):
        problems.append(f"WORKER_ID={s.worker_id!r}: 1-200 of A-Z a-z 0-9 _ . : @ -")
    return problems + _check_jvm(s)


def _check_jvm(s: Settings) -> list[str]:
    if s.java_opts is not None:
        try:
            shlex.split(s.java_opts)
        except ValueError as exc:  # caught here, not as a traceback when the JVM command is built
            return [f"JAVA_OPTS={s.java_opts!r}: not shell words ({exc})"]
    return []
