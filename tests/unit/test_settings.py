"""Worker settings from environment variables."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from consumer_app.rules.retry import RetryPolicy
from consumer_app.settings import (
    ENV_VARS,
    EXIT_SETTINGS,
    JVM_VARS,
    Settings,
    SettingsError,
    from_env,
    jvm_from_env,
)

REGION = {"AWS_REGION": "eu-west-1"}


def env(**kw: str) -> dict[str, str]:
    return {**REGION, **kw}


def error_of(e: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as info:
        from_env(e)
    return str(info.value)


def test_defaults_with_only_a_region():
    s = from_env(REGION)
    assert s.stream_name == "input_stream"
    assert s.aggregates_table == "kinesisAggs"
    assert s.rejects_table == "kinesisAggs-rejects"
    assert s.application_name == "kinesis-aggs-consumer"
    assert s.region == "eu-west-1"
    assert s.kinesis_endpoint is None and s.dynamodb_endpoint is None
    assert s.profile == "aws"
    assert s.window_seconds == 30
    assert s.initial_position == "TRIM_HORIZON"
    assert (s.retry_max_attempts, s.retry_max_seconds, s.retry_base_millis, s.retry_max_delay_millis) == (
        50, 120.0, 50, 5000)
    assert s.write_concurrency == 4
    assert s.shutdown_grace_millis == 25_000
    assert s.log_level == "INFO"
    assert s.stats_interval_seconds == 30.0
    assert s.reject_ttl_days == 14
    assert s.reject_payload_max_bytes == 2048
    assert s.heartbeat_dir is None and s.health_max_age_seconds == 180.0
    host, pid, suffix = s.worker_id.rsplit("-", 2)
    assert (host, pid) == (socket.gethostname(), str(os.getpid())) and len(suffix) == 6
    assert s.lease_bootstrap == "auto" and not s.bootstraps_leases  # on only for the local profile


def test_the_default_retry_settings_are_the_default_retry_policy():
    assert from_env(REGION).retry_policy == RetryPolicy()


def test_default_worker_ids_differ_within_one_process():
    """Two containers with the host's hostname and the same pid must not share a lease owner."""
    env = {"AWS_REGION": "eu-west-1"}
    assert from_env(env).worker_id != from_env(env).worker_id


def test_lease_bootstrap_follows_the_profile_unless_set():
    base = {"AWS_REGION": "eu-west-1"}
    assert from_env({**base, "KCL_PROFILE": "local"}).bootstraps_leases
    assert not from_env({**base, "KCL_PROFILE": "local", "LEASE_BOOTSTRAP": "off"}).bootstraps_leases
    assert from_env({**base, "LEASE_BOOTSTRAP": "on"}).bootstraps_leases
    with pytest.raises(SettingsError, match="LEASE_BOOTSTRAP='yes'"):
        from_env({**base, "LEASE_BOOTSTRAP": "yes"})


def test_from_env_reads_os_environ_by_default(monkeypatch):
    for var in list(os.environ):
        if var.startswith("AWS_") or var in ENV_VARS:
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    monkeypatch.setenv("WINDOW_SECONDS", "60")
    s = from_env()
    assert (s.region, s.window_seconds) == ("ap-southeast-2", 60)


def test_every_variable_is_read():
    s = from_env(env(
        STREAM_NAME="trips", AGGREGATES_TABLE="aggs", REJECTS_TABLE="rej", APPLICATION_NAME="app-1",
        KCL_PROFILE="local", WINDOW_SECONDS=" 60 ", INITIAL_POSITION="LATEST", RETRY_MAX_ATTEMPTS="3",
        RETRY_MAX_SECONDS="7.5", RETRY_BASE_MILLIS="10", RETRY_MAX_DELAY_MILLIS="100", WRITE_CONCURRENCY="8",
        SHUTDOWN_GRACE_MILLIS="30000", WORKER_ID="w-1", LOG_LEVEL="DEBUG", STATS_INTERVAL_SECONDS="0.5",
        REJECT_TTL_DAYS="1", REJECT_PAYLOAD_MAX_BYTES="64", HEARTBEAT_DIR="/tmp/hb",
        HEALTH_MAX_AGE_SECONDS="30",
    ))
    assert s == Settings(
        stream_name="trips", aggregates_table="aggs", rejects_table="rej", application_name="app-1",
        region="eu-west-1", profile="local", window_seconds=60, initial_position="LATEST",
        retry_max_attempts=3, retry_max_seconds=7.5, retry_base_millis=10, retry_max_delay_millis=100,
        write_concurrency=8, shutdown_grace_millis=30000, worker_id="w-1", log_level="DEBUG",
        stats_interval_seconds=0.5, reject_ttl_days=1, reject_payload_max_bytes=64, heartbeat_dir="/tmp/hb",
        health_max_age_seconds=30.0,
    )
    assert s.retry_policy == RetryPolicy(max_attempts=3, max_elapsed_s=7.5, base_delay_s=0.01,
                                         max_delay_s=0.1)


def test_blank_values_mean_default():
    s = from_env(env(WINDOW_SECONDS="", STREAM_NAME="   ", WORKER_ID="w"))
    assert (s.window_seconds, s.stream_name) == (30, "input_stream")


def test_region_fallback_and_precedence():
    assert from_env({"AWS_DEFAULT_REGION": "us-east-2"}).region == "us-east-2"
    both = {"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "us-east-2"}
    assert from_env(both).region == "eu-central-1"
    assert from_env({"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-east-2"}).region == "us-east-2"


def test_blank_region_falls_back_to_default_region():
    assert from_env({"AWS_REGION": "  ", "AWS_DEFAULT_REGION": "us-east-2"}).region == "us-east-2"


def test_missing_region():
    msg = error_of({})
    assert "AWS_REGION is not set" in msg


@pytest.mark.parametrize("region", ["Europe", "eu_west_1", "eu-west", "EU-WEST-1"])
def test_bad_region(region):
    assert f"AWS_REGION={region!r}" in error_of({"AWS_REGION": region})


def test_endpoint_general_applies_to_both():
    s = from_env(env(AWS_ENDPOINT_URL="http://localhost:4566"))
    assert (s.kinesis_endpoint, s.dynamodb_endpoint) == ("http://localhost:4566", "http://localhost:4566")


def test_endpoint_service_specific_wins():
    s = from_env(env(AWS_ENDPOINT_URL="http://localhost:4566", AWS_ENDPOINT_URL_KINESIS="http://127.0.0.1:4567",
                     AWS_ENDPOINT_URL_DYNAMODB="https://ddb.example.com/x"))
    assert (s.kinesis_endpoint, s.dynamodb_endpoint) == ("http://127.0.0.1:4567", "https://ddb.example.com/x")
    s = from_env(env(AWS_ENDPOINT_URL_DYNAMODB="http://localhost:5000"))
    assert (s.kinesis_endpoint, s.dynamodb_endpoint) == (None, "http://localhost:5000")


@pytest.mark.parametrize("var", ["AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB"])
@pytest.mark.parametrize("url", ["localhost:4566", "ftp://host", "http://", "http:// spaced"])
def test_bad_service_endpoint_names_its_variable(var, url):
    msg = error_of(env(**{var: url}))
    assert f"{var}={url!r}" in msg and "not an http(s) URL" in msg


def test_bad_general_endpoint_names_the_general_variable():
    msg = error_of(env(AWS_ENDPOINT_URL="localhost"))
    assert "AWS_ENDPOINT_URL='localhost'" in msg
    assert "AWS_ENDPOINT_URL_KINESIS" not in msg


def test_bad_general_endpoint_with_blank_service_variable():
    msg = error_of(env(AWS_ENDPOINT_URL="localhost", AWS_ENDPOINT_URL_KINESIS="  "))
    assert "AWS_ENDPOINT_URL_KINESIS" not in msg


@pytest.mark.parametrize(("var", "value", "needle"), [
    ("WINDOW_SECONDS", "thirty", "not an integer"),
    ("WINDOW_SECONDS", "30.0", "not an integer"),
    ("WINDOW_SECONDS", "0", "between 1 and 86400"),
    ("WINDOW_SECONDS", "86401", "between 1 and 86400"),
    ("WINDOW_SECONDS", "-30", "between 1 and 86400"),
    ("RETRY_MAX_ATTEMPTS", "0", "between"),
    ("RETRY_MAX_SECONDS", "abc", "not a number"),
    ("RETRY_MAX_SECONDS", "nan", "between"),
    ("RETRY_MAX_SECONDS", "inf", "between"),
    ("RETRY_MAX_SECONDS", "0.5", "between"),
    ("WRITE_CONCURRENCY", "65", "between 1 and 64"),
    ("SHUTDOWN_GRACE_MILLIS", "999", "between"),
    ("REJECT_PAYLOAD_MAX_BYTES", "63", "between"),
    ("STATS_INTERVAL_SECONDS", "0.1", "between"),
    ("INITIAL_POSITION", "AT_TIMESTAMP", "TRIM_HORIZON, LATEST"),
    ("INITIAL_POSITION", "trim_horizon", "TRIM_HORIZON, LATEST"),
    ("KCL_PROFILE", "dev", "aws, local"),
    ("KCL_PROFILE", "AWS", "aws, local"),
    ("LOG_LEVEL", "VERBOSE", "DEBUG"),
    ("STREAM_NAME", "bad name", "1-128"),
    ("AGGREGATES_TABLE", "ab", "DynamoDB table name"),
    ("REJECTS_TABLE", "x/y", "DynamoDB table name"),
    ("APPLICATION_NAME", "a b", "lease table"),
    ("APPLICATION_NAME", "ab", "3-200"),  # it names a DynamoDB table: 3 characters at least
    ("WORKER_ID", "worker 1", "WORKER_ID"),
])
def test_wrong_value_names_the_variable(var, value, needle):
    msg = error_of(env(**{var: value}))
    assert msg.startswith("invalid settings:")
    assert var in msg and needle in msg


def test_same_table_names():
    msg = error_of(env(AGGREGATES_TABLE="same", REJECTS_TABLE="same"))
    assert "AGGREGATES_TABLE and REJECTS_TABLE must differ" in msg


def test_application_name_must_not_be_a_data_table():
    msg = error_of(env(APPLICATION_NAME="kinesisAggs"))
    assert "APPLICATION_NAME" in msg and "lease table" in msg


def test_retry_max_delay_below_base():
    msg = error_of(env(RETRY_BASE_MILLIS="500", RETRY_MAX_DELAY_MILLIS="100"))
    assert "RETRY_MAX_DELAY_MILLIS must be >= RETRY_BASE_MILLIS" in msg


def test_log_level_is_case_insensitive():
    assert from_env(env(LOG_LEVEL="debug")).log_level == "debug"


def test_several_problems_in_one_message():
    msg = error_of({"WINDOW_SECONDS": "x", "INITIAL_POSITION": "NOW", "KCL_PROFILE": "prod",
                    "AWS_ENDPOINT_URL": "nope", "AGGREGATES_TABLE": "tab1", "REJECTS_TABLE": "tab1"})
    lines = msg.splitlines()
    assert lines[0] == "invalid settings:"
    for needle in ("WINDOW_SECONDS='x'", "INITIAL_POSITION='NOW'", "KCL_PROFILE='prod'",
                   "AWS_REGION is not set", "AWS_ENDPOINT_URL='nope'", "must differ"):
        assert sum(needle in line for line in lines[1:]) >= 1, needle
    # one line per problem (the bad endpoint counts once per service)
    assert len(lines) == 1 + 7
    assert all(line.startswith("  - ") for line in lines[1:])


def test_a_record_processor_with_bad_settings_exits_with_the_reason(monkeypatch, capsys):
    """The child says what is wrong and exits EXIT_SETTINGS before it speaks the KCL protocol."""
    from consumer_app import processor as proc

    def no_protocol(*_: object) -> None:
        raise AssertionError("the KCL protocol started with invalid settings")

    monkeypatch.setattr(proc.signal, "signal", lambda *_: None)  # the test process keeps its handlers
    monkeypatch.setattr(proc.kcl, "KCLProcess", no_protocol)
    monkeypatch.setenv("WINDOW_SECONDS", "x")
    with pytest.raises(SystemExit) as stopped:
        proc.main()
    assert stopped.value.code == EXIT_SETTINGS != 0
    err = capsys.readouterr().err
    assert err.startswith("record processor: invalid settings:") and "WINDOW_SECONDS='x'" in err


# -- how the worker starts the JVM (consumer_app/worker.py reads these through Settings) ----

ROOT = Path(__file__).resolve().parents[2]


def test_jvm_launch_defaults_are_the_checkouts_layout():
    s = from_env(REGION)
    assert (s.java_home, s.java_opts, s.run_dir) == ("", None, None)
    assert s.properties_dir == ROOT / "properties"
    assert s.jars_dir == ROOT / "build" / "jars"
    assert s.launcher_jar == ROOT / "build" / "launcher" / "kinesis-aggs-launcher.jar"
    assert s.cds_archive == ROOT / "build" / "launcher" / "kcl-classes.jsa"


def test_the_jvm_launch_variables_are_read():
    s = from_env(env(JAVA_HOME="/opt/java", JAVA_OPTS=" -Xmx1g -Dname='a b' ",
                     KCL_PROPERTIES_DIR="/app/props", KCL_JARS_DIR="/app/jars",
                     KCL_LAUNCHER_JAR="/app/launcher.jar",
                     KCL_CDS_ARCHIVE="/app/classes.jsa", KCL_RUN_DIR="/tmp/run", WORKER_ID="w"))
    assert s == Settings(region="eu-west-1", worker_id="w", java_home="/opt/java",
                         java_opts="-Xmx1g -Dname='a b'", properties_dir=Path("/app/props"),
                         jars_dir=Path("/app/jars"), launcher_jar=Path("/app/launcher.jar"),
                         cds_archive=Path("/app/classes.jsa"), run_dir=Path("/tmp/run"))


def test_blank_jvm_variables():
    """Set but empty, JAVA_OPTS means no flags and KCL_CDS_ARCHIVE no archive; the others mean
    the default, as for every other setting."""
    s = from_env(env(JAVA_OPTS="", KCL_CDS_ARCHIVE=" ", KCL_RUN_DIR="", KCL_JARS_DIR="  ", JAVA_HOME=""))
    assert (s.java_opts, s.cds_archive, s.run_dir, s.java_home) == ("", None, None, "")
    assert s.jars_dir == Settings().jars_dir


def test_java_opts_that_are_not_shell_words_name_the_variable():
    msg = error_of(env(JAVA_OPTS="-Dname='unclosed"))
    assert msg.startswith("invalid settings:") and "JAVA_OPTS=\"-Dname='unclosed\": not shell words" in msg


def test_jvm_from_env_needs_no_region_and_reads_only_the_jvm_variables():
    s = jvm_from_env({"KCL_JARS_DIR": "/j", "JAVA_OPTS": "", "WINDOW_SECONDS": "x", "STREAM_NAME": "s"})
    assert (s.jars_dir, s.java_opts, s.window_seconds, s.stream_name, s.region) == (
        Path("/j"), "", 30, "input_stream", "")
    assert set(JVM_VARS) <= set(ENV_VARS)
    with pytest.raises(SettingsError, match="JAVA_OPTS"):
        jvm_from_env({"JAVA_OPTS": '"'})


def test_jvm_from_env_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("KCL_PROPERTIES_DIR", "/from/environ")
    assert jvm_from_env().properties_dir == Path("/from/environ")
