"""MultiLangDaemon properties: parse, check, merge, render."""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer_app.kcl_properties import (
    FROM_SETTINGS,
    KNOWN_KEYS,
    LAUNCHER_KEYS,
    PropertiesError,
    check_keys,
    merge,
    parse,
    render,
)
from consumer_app.settings import Settings, from_env

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(region="us-east-1", worker_id="w-1")


# -- parse ---------------------------------------------------------------------------

def test_parse_comments_blanks_and_separators():
    text = """
# a comment
! another comment
   # indented comment
maxRecords = 100
metricsLevel=NONE
failoverTimeMillis : 5000
kinesisEndpoint = http://localhost:4567
tableName:a=b

  idleTimeBetweenReadsInMillis   =   250   \n
emptyValue =
"""
    assert parse(text, "t") == {
        "maxRecords": "100",
        "metricsLevel": "NONE",
        "failoverTimeMillis": "5000",
        "kinesisEndpoint": "http://localhost:4567",
        "tableName": "a=b",
        "idleTimeBetweenReadsInMillis": "250",
        "emptyValue": "",
    }


def test_parse_empty():
    assert parse("", "t") == {}
    assert parse("# only\n\n", "t") == {}


def test_parse_duplicate_key_names_source_and_line():
    with pytest.raises(PropertiesError, match=r"^f\.properties:3: maxRecords is set twice$"):
        parse("maxRecords = 1\n# x\nmaxRecords = 2\n", "f.properties")


@pytest.mark.parametrize("line", ["justakey", "= value", ": value"])
def test_parse_line_without_key_and_separator(line):
    with pytest.raises(PropertiesError, match=r"^src:2: expected 'key = value'"):
        parse(f"a = 1\n{line}\n", "src")


# -- check_keys ----------------------------------------------------------------------

def test_check_keys_accepts_known_and_nested():
    check_keys({"maxRecords": "1", "metricsLevel": "NONE", "cloudWatchClient.endpointOverride": "http://x",
                "kinesisClient.region": "x", "dynamoDBClient.endpointOverride": "http://y"}, "src")


@pytest.mark.parametrize(("key", "hint"), [("StreamName", "streamName"), ("retrievalmode", "retrievalMode"),
                                           ("METRICSLEVEL", "metricsLevel"),
                                           ("awsCredentialsProvider", "AwsCredentialsProvider")])
def test_unknown_key_with_case_hint(key, hint):
    with pytest.raises(PropertiesError) as info:
        check_keys({key: "x", "maxRecords": "1"}, "base.properties")
    msg = str(info.value)
    assert msg.startswith("base.properties: unknown KCL properties")
    assert f"{key} (did you mean {hint}?)" in msg


def test_unknown_keys_without_hint_are_all_listed():
    with pytest.raises(PropertiesError) as info:
        check_keys({"maxRecord": "1", "zzz": "2", "cloudwatchClient.endpointOverride": "x"}, "src")
    msg = str(info.value)
    assert "cloudwatchClient.endpointOverride, maxRecord, zzz" in msg
    assert "did you mean" not in msg


@pytest.mark.parametrize("key", sorted(FROM_SETTINGS))
def test_keys_reserved_for_settings_are_refused(key):
    with pytest.raises(PropertiesError, match=f"^src: {key} come from the environment"):
        check_keys({key: "x"}, "src")


def test_reserved_keys_listed_together():
    with pytest.raises(PropertiesError, match=r"^f: regionName, streamName come from the environment"):
        check_keys({"streamName": "s", "regionName": "r", "maxRecords": "1"}, "f")


def test_reserved_keys_are_the_settings_ones():
    assert {
        "executableName", "streamName", "applicationName", "regionName", "initialPositionInStream",
        "shutdownGraceMillis", "workerId", "kinesisEndpoint", "dynamoDBEndpoint", "retrievalMode",
    } == FROM_SETTINGS


# -- merge ---------------------------------------------------------------------------

BASE = "maxRecords = 100\nmetricsLevel = SUMMARY\n"


def test_merge_layers_in_order_and_settings_last():
    props = merge([("base", BASE), ("local", "metricsLevel = NONE\nfailoverTimeMillis = 5000\n")],
                  SETTINGS, "/usr/bin/consumer")
    assert props == {
        "maxRecords": "100",
        "metricsLevel": "NONE",
        "failoverTimeMillis": "5000",
        "executableName": "/usr/bin/consumer",
        "streamName": "input_stream",
        "applicationName": "kinesis-aggs-consumer",
        "regionName": "us-east-1",
        "initialPositionInStream": "TRIM_HORIZON",
        "shutdownGraceMillis": "25000",
        "workerId": "w-1",
        "retrievalMode": "POLLING",
    }


def test_merge_endpoints_from_settings():
    s = Settings(region="eu-west-1", kinesis_endpoint="http://localhost:4567",
                 dynamodb_endpoint="http://localhost:5000", stream_name="trips", initial_position="LATEST",
                 shutdown_grace_millis=30_000, worker_id="host-1")
    props = merge([("base", BASE)], s, "exe")
    assert props["kinesisEndpoint"] == "http://localhost:4567"
    assert props["dynamoDBEndpoint"] == "http://localhost:5000"
    assert (props["streamName"], props["initialPositionInStream"], props["shutdownGraceMillis"]) == (
        "trips", "LATEST", "30000")
    assert props["regionName"] == "eu-west-1" and props["workerId"] == "host-1"


def test_merge_refuses_a_reserved_key_in_any_layer():
    with pytest.raises(PropertiesError, match=r"^local: streamName come from the environment"):
        merge([("base", BASE), ("local", "streamName = other\n")], SETTINGS, "exe")


def test_merge_refuses_unknown_key_naming_the_layer():
    with pytest.raises(PropertiesError, match=r"^local: unknown KCL properties"):
        merge([("base", BASE), ("local", "MaxRecords = 5\n")], SETTINGS, "exe")


# -- retrievalMode: the environment decides (RETRIEVAL_MODE), never a file -----------------

@pytest.mark.parametrize(("layers", "source"), [
    ([("base", "retrievalMode = FANOUT\n")], "base"),
    ([("base", "retrievalMode = POLLING\n")], "base"),
    ([("base", BASE), ("local", "retrievalMode = polling\n")], "local"),
])
@pytest.mark.parametrize("mode", ["POLLING", "FANOUT"])
def test_a_file_that_sets_the_retrieval_mode_is_refused(layers, source, mode):
    with pytest.raises(PropertiesError, match=f"^{source}: retrievalMode come from the environment"):
        merge(layers, Settings(region="us-east-1", retrieval_mode=mode), "exe")


@pytest.mark.parametrize("layers", [[], [("base", BASE)]])
def test_polling_by_default(layers):
    assert merge(layers, SETTINGS, "exe")["retrievalMode"] == "POLLING"


def test_fanout_from_the_environment():
    """RETRIEVAL_MODE=FANOUT renders retrievalMode = FANOUT and changes nothing else."""
    fanout = merge([("base", BASE)], from_env({"AWS_REGION": "us-east-1", "WORKER_ID": "w-1",
                                               "RETRIEVAL_MODE": "FANOUT"}), "exe")
    polling = merge([("base", BASE)], from_env({"AWS_REGION": "us-east-1", "WORKER_ID": "w-1"}), "exe")
    assert fanout["retrievalMode"] == "FANOUT" and polling["retrievalMode"] == "POLLING"
    assert {k: v for k, v in fanout.items() if k != "retrievalMode"} == \
        {k: v for k, v in polling.items() if k != "retrievalMode"}
    assert "retrievalMode = FANOUT\n" in render(fanout)


@pytest.mark.parametrize("mode", ["fanout", "EFO", ""])
def test_merge_refuses_a_retrieval_mode_the_daemon_does_not_run(mode):
    # Settings.from_env refuses these first; a Settings made by hand reaches merge
    with pytest.raises(PropertiesError, match=r"^retrievalMode must be one of POLLING, FANOUT"):
        merge([("base", BASE)], Settings(region="us-east-1", retrieval_mode=mode), "exe")


@pytest.mark.parametrize("key", ["consumerName", "consumerArn", "fanoutConfig.consumerName"])
def test_the_fan_out_consumer_cannot_be_renamed_by_a_file(key):
    """KCL names the consumer after applicationName; the CDK app grants SubscribeToShard on that
    consumer only (infra/kinesis_aggs_infra/service.py), so a file may not choose another one."""
    with pytest.raises(PropertiesError, match="unknown KCL properties"):
        check_keys({key: "other"}, "base.properties")


def test_merge_duplicate_within_a_layer():
    with pytest.raises(PropertiesError, match="set twice"):
        merge([("base", BASE + "maxRecords = 5\n")], SETTINGS, "exe")


# -- render --------------------------------------------------------------------------

def test_render_format():
    assert render({"a": "1", "b": "http://x:1"}) == "a = 1\nb = http://x:1\n"


def test_render_of_merge_round_trips():
    props = merge([("base", BASE)], SETTINGS, "/bin/exe")
    assert parse(render(props), "rendered") == props


_LETTERS = "abcXYZmnoQ"
keys = st.builds(lambda a, b: a + b, st.sampled_from(_LETTERS),
                 st.text(alphabet=_LETTERS + "09_.", max_size=12))
values = st.text(alphabet=_LETTERS + "09 =:#!/\\é東", max_size=30).map(str.strip)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, values, max_size=10))
def test_render_parse_round_trip(props):
    assert parse(render(props), "x") == props


# -- the real files ------------------------------------------------------------------

def test_real_property_files_merge():
    base = (ROOT / "properties" / "base.properties").read_text()
    local = (ROOT / "properties" / "local.properties").read_text()
    aws = merge([("base.properties", base)], Settings(region="us-east-1"), "exe")
    assert aws["retrievalMode"] == "POLLING"
    assert aws["AwsCredentialsProvider"] == "DefaultCredentialsProvider"
    loc = merge([("base.properties", base), ("local.properties", local)], Settings(region="us-east-1"), "exe")
    assert loc["AwsCredentialsProvider"] == "EnvironmentVariableCredentialsProvider"
    assert loc["metricsLevel"] == "NONE"
    assert loc["disableWorkerMetrics"] == "true"
    assert loc["retrievalMode"] == "POLLING"


@pytest.mark.parametrize("profile", ["aws", "local"])
def test_real_property_files_render_fanout(profile):
    """The file an ECS task renders with RETRIEVAL_MODE=FANOUT (and the local one, docs/fanout.md)."""
    layers = [("base.properties", (ROOT / "properties" / "base.properties").read_text())]
    if profile == "local":
        layers.append(("local.properties", (ROOT / "properties" / "local.properties").read_text()))
    s = from_env({"AWS_REGION": "eu-west-1", "KCL_PROFILE": profile, "RETRIEVAL_MODE": "FANOUT",
                  "APPLICATION_NAME": "kinesis-aggs-consumer", "WORKER_ID": "task-1"})
    props = parse(render(merge(layers, s, "exe")), "rendered")
    assert props["retrievalMode"] == "FANOUT"
    # the consumer KCL registers is named after the application, the name the task role's
    # fan-out grant is scoped to (<stream ARN>/consumer/kinesis-aggs-consumer:*)
    assert props["applicationName"] == "kinesis-aggs-consumer"
    assert not {"consumerName", "consumerArn"} & set(props)
    assert props["streamName"] == "input_stream" and props["regionName"] == "eu-west-1"
    if profile == "aws":
        assert props["AwsCredentialsProvider"] == "DefaultCredentialsProvider"
        assert "kinesisEndpoint" not in props and "dynamoDBEndpoint" not in props


# -- KNOWN_KEYS against the KCL jar --------------------------------------------------

def _multilang_jar() -> str | None:
    jars = sorted(glob.glob(str(ROOT / "build" / "jars" / "*amazon-kinesis-client-multilang-*.jar")))
    return jars[-1] if jars else None


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def test_known_keys_are_bean_properties_of_the_multilang_configuration():
    javap = shutil.which("javap")
    jar = _multilang_jar()
    if javap is None or jar is None:
        pytest.skip(f"needs javap ({javap or 'not on PATH'}) and the KCL multilang jar "
                    f"build/jars/*amazon-kinesis-client-multilang-*.jar ({jar or 'missing: run make setup'})")
    out = subprocess.run(
        [javap, "-cp", jar, "software.amazon.kinesis.multilang.config.MultiLangDaemonConfiguration"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    setters = {_lower_first(m) for m in re.findall(r"\bset([A-Z][A-Za-z0-9]*)\(", out)}
    assert len(setters) > 50, out[:500]
    keys = {_lower_first(k) for k in KNOWN_KEYS - {"executableName", "processingLanguage"}}
    assert sorted(keys - setters) == []


def test_launcher_keys_are_the_ones_the_launcher_reads():
    """The launcher's Tuning.KEYS and LAUNCHER_KEYS name the same settings, none of them the daemon's."""
    source = (ROOT / "launcher/src/main/java/kinesisaggs/launcher/Tuning.java").read_text()
    numeric = source.split("KEYS = new TreeMap<>(Map.of(", 1)[1].split("));", 1)[0]
    named = source.split("NAMED_KEYS = List.of(", 1)[1].split(");", 1)[0]
    found = set(re.findall(r'"([A-Za-z]+)", new long', numeric)) | set(re.findall(r'"([A-Za-z]+)"', named))
    assert found == LAUNCHER_KEYS
    assert not LAUNCHER_KEYS & KNOWN_KEYS
