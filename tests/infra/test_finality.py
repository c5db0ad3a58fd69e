"""Final windows in the stack: the watermarks table, the workers' new grants, the finalizer
service (its task, its role, its environment), and the finality alarms and dashboard widget."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kinesis_aggs_infra.finalizer import FINALIZER_CPU, FINALIZER_MEMORY_MIB

from tests.infra.conftest import COMBINATIONS, PRIVATE_SUBNETS
from tests.support.cfn import Synth, alarms_of, container, flat, logical_id, statements, strings_in

pytestmark = pytest.mark.infra

ALL = list(COMBINATIONS)


def finalizer_task(s: Synth) -> dict[str, Any]:
    return s.owned("AWS::ECS::TaskDefinition", "Finalizer")[1]["Properties"]


def finalizer_container(s: Synth) -> dict[str, Any]:
    (c,) = finalizer_task(s)["ContainerDefinitions"]
    return c


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: flat(e["Value"]) for e in c["Environment"]}


# -- the finalizer's permissions: exactly a pass's calls ------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_finalizer_task_role_least_privilege(synths: dict[str, Synth], name: str) -> None:
    """Whatever the options (FANOUT, a stream key...), the finalizer gets these three statements
    only: no kms:Decrypt on the stream's key (ListShards reads no record), no PutMetricData (its
    metrics are EMF log lines).  The tables' key, when the stack makes one, is a fourth
    (test_stack.test_tables_under_a_customer_managed_key)."""
    s = synths[name]
    stream = logical_id(s, s.stack.data.stream)
    aggs, watermarks = logical_id(s, s.stack.data.aggregates), logical_id(s, s.stack.data.watermarks)
    got = statements(s, "FinalizerTaskRoleDefaultPolicy")
    assert (got.pop("TablesKeyDecrypt", None) is not None) is (s.cfg.table_encryption == "CUSTOMER_MANAGED")
    assert got == {
        "StreamShards": {"actions": ["kinesis:ListShards"],
                         "resources": [f"${{{stream}.Arn}}"], "condition": None, "effect": "Allow"},
        "Watermarks": {"actions": ["dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:UpdateItem"],
                       "resources": [f"${{{watermarks}.Arn}}"], "condition": None, "effect": "Allow"},
        "AggregatesFinalize": {"actions": ["dynamodb:DescribeTable", "dynamodb:Query", "dynamodb:UpdateItem"],
                               "resources": [f"${{{aggs}.Arn}}"], "condition": None, "effect": "Allow"},
    }
    task = finalizer_task(s)
    role = logical_id(s, s.stack.finalizer.task_role)
    assert task["TaskRoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    # the role has no other policy attached, managed or inline
    props = s.resources[role]["Properties"]
    assert "ManagedPolicyArns" not in props and "Policies" not in props
    policies = s.of_type("AWS::IAM::Policy")
    attached = [k for k, v in policies.items() if {"Ref": role} in v["Properties"]["Roles"]]
    assert attached == [k for k in policies if k.startswith("FinalizerTaskRoleDefaultPolicy")]


@pytest.mark.parametrize("name", ALL)
def test_finalizer_shares_the_workers_execution_role(synths: dict[str, Synth], name: str) -> None:
    """The same image and log group: the workers' execution role, whose three statements stay as they were."""
    s = synths[name]
    worker_task = s.owned("AWS::ECS::TaskDefinition", "Workers")[1]["Properties"]
    assert finalizer_task(s)["ExecutionRoleArn"] == worker_task["ExecutionRoleArn"]
    assert len(statements(s, "WorkersTaskExecutionRoleDefaultPolicy")) == 3
    assert not [k for k in s.of_type("AWS::IAM::Role") if k.startswith("FinalizerTaskExecutionRole")]


# -- the finalizer's task and service ------------------------------------------------------------
def test_finalizer_container(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    task, c = finalizer_task(s), finalizer_container(s)
    assert c["Command"] == ["finalize"]  # after the image's ENTRYPOINT: python -m consumer_app
    assert "EntryPoint" not in c
    assert (task["Cpu"], task["Memory"]) == ("256", "512") == (str(FINALIZER_CPU), str(FINALIZER_MEMORY_MIB))
    # the image's HEALTHCHECK checks the KCL daemon: the finalizer's container has none
    assert "HealthCheck" not in c
    assert env_of(c) == {
        "STREAM_NAME": "input_stream", "AGGREGATES_TABLE": "kinesisAggs",
        "REJECTS_TABLE": "kinesisAggs-rejects", "WATERMARKS_TABLE": "kinesisAggs-watermarks",
        "APPLICATION_NAME": "kinesis-aggs-consumer", "WINDOW_SECONDS": "30", "LOG_LEVEL": "INFO",
        "FINALIZE_INTERVAL_SECONDS": "10",
        "AWS_REGION": "${AWS::Region}", "AWS_DEFAULT_REGION": "${AWS::Region}",
    }
    # run like the worker: the image's user, read-only root with /tmp as task storage
    assert c["User"] == "10001:10001" and c["ReadonlyRootFilesystem"] is True and c["Essential"] is True
    assert c["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}]
    assert task["Volumes"] == [{"Name": "tmp"}]
    # the workers' image (one asset) and log group, its own stream prefix
    assert c["Image"] == container(s)["Image"]
    log_group = logical_id(s, s.stack.workers.log_group)
    assert c["LogConfiguration"] == {"LogDriver": "awslogs", "Options": {
        "awslogs-group": {"Ref": log_group}, "awslogs-stream-prefix": "finalizer",
        "awslogs-region": {"Ref": "AWS::Region"}}}
    assert container(s)["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "worker"
    assets = json.loads((s.outdir / f"{s.stack.stack_name}.assets.json").read_text())
    assert len(assets["dockerImages"]) == 1


@pytest.mark.parametrize("name", ALL)
def test_finalizer_service(synths: dict[str, Synth], name: str) -> None:
    """One task, never scaled, in the workers' cluster, subnets and security group, on their CPU type."""
    s = synths[name]
    fin_id, fin = s.owned("AWS::ECS::Service", "Finalizer")
    _, workers = s.owned("AWS::ECS::Service", "Workers")
    p = fin["Properties"]
    assert p["DesiredCount"] == 1
    assert p["LaunchType"] == "FARGATE" and p["PlatformVersion"] == "LATEST"
    assert p["Cluster"] == workers["Properties"]["Cluster"]
    assert p["NetworkConfiguration"] == workers["Properties"]["NetworkConfiguration"]
    deploy = p["DeploymentConfiguration"]
    assert deploy["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert (deploy["MinimumHealthyPercent"], deploy["MaximumPercent"]) == (100, 200)
    assert "HealthCheckGracePeriodSeconds" not in p and "LoadBalancers" not in p
    # the one scalable target is the workers'
    _, target = s.one("AWS::ApplicationAutoScaling::ScalableTarget")
    assert fin_id not in json.dumps(target)
    worker_task = s.owned("AWS::ECS::TaskDefinition", "Workers")[1]["Properties"]
    assert finalizer_task(s)["RuntimePlatform"] == worker_task["RuntimePlatform"]
    assert "HealthCheck" not in finalizer_container(s)


def test_finalizer_follows_the_options(synths: dict[str, Synth]) -> None:
    s = synths["options"]
    assert finalizer_task(s)["RuntimePlatform"]["CpuArchitecture"] == "ARM64"  # the image is built for ARM
    env = env_of(finalizer_container(s))
    # the worker's variables the finalizer reads follow it, workerEnvironment's too; the rest does not
    assert (env["WATERMARKS_TABLE"], env["FINALIZE_INTERVAL_SECONDS"], env["AGGREGATE_SUB_ITEMS"]) == \
        ("trips-watermarks", "2.5", "4")
    for var in ("WRITE_CONCURRENCY", "SHUTDOWN_GRACE_MILLIS", "WATERMARK_MARGIN_MILLIS"):
        assert var not in env
    worker = env_of(container(s))
    assert (worker["WATERMARKS_TABLE"], worker["WATERMARK_MARGIN_MILLIS"], worker["AGGREGATE_SUB_ITEMS"]) == \
        ("trips-watermarks", "2000", "4")
    assert "FINALIZE_INTERVAL_SECONDS" not in worker
    _, fin = s.owned("AWS::ECS::Service", "Finalizer")
    assert fin["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"


def test_finalizer_in_an_existing_vpc(synths: dict[str, Synth]) -> None:
    s = synths["existing_vpc"]
    _, fin = s.owned("AWS::ECS::Service", "Finalizer")
    conf = fin["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert conf["AssignPublicIp"] == "DISABLED"
    assert conf["Subnets"] == list(PRIVATE_SUBNETS)


# -- alarms and dashboard ---------------------------------------------------------------------
def _metric(alarm: dict[str, Any]) -> tuple[str, str, int, dict[str, Any]]:
    (m,) = alarm["Metrics"]
    st = m["MetricStat"]
    return (st["Metric"]["MetricName"], st["Stat"], st["Period"],
            {d["Name"]: d["Value"] for d in st["Metric"]["Dimensions"]} | {"ns": st["Metric"]["Namespace"]})


def test_finality_alarms(synths: dict[str, Synth]) -> None:
    alarms = alarms_of(synths["default"])
    violation = alarms["FinalityViolationAlarm"]
    assert _metric(violation) == ("RefusedForFinalWindow", "Sum", 300,
                                  {"Stream": "input_stream", "ns": "kinesis-aggs-consumer"})
    assert (violation["Threshold"], violation["ComparisonOperator"], violation["EvaluationPeriods"],
            violation["DatapointsToAlarm"], violation["TreatMissingData"]) == \
        (1, "GreaterThanOrEqualToThreshold", 1, 1, "notBreaching")
    assert "window_final" in violation["AlarmDescription"]
    lag = alarms["FinalityLagAlarm"]
    assert _metric(lag) == ("GlobalWatermarkLag", "Maximum", 300,
                            {"Stream": "input_stream", "ns": "kinesis-aggs-consumer"})
    # no lag reported at all: no finalizer runs, no window becomes final
    assert (lag["Threshold"], lag["ComparisonOperator"], lag["EvaluationPeriods"], lag["DatapointsToAlarm"],
            lag["TreatMissingData"]) == (600, "GreaterThanThreshold", 3, 3, "breaching")


def test_finality_lag_alarm_threshold_is_a_setting(synths: dict[str, Synth]) -> None:
    s = synths["options"]
    alarms = alarms_of(s)
    assert alarms["FinalityLagAlarm"]["Threshold"] == 900
    for name in ("FinalityLagAlarm", "FinalityViolationAlarm"):  # notify the topic like the others
        assert alarms[name]["AlarmActions"] == alarms["IteratorAgeAlarm"]["AlarmActions"] != []


def test_finality_widget(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    _, dash = s.one("AWS::CloudWatch::Dashboard")
    body = json.loads(flat(dash["Properties"]["DashboardBody"]))
    (widget,) = [w for w in body["widgets"] if w["properties"].get("title", "").startswith("Final windows")]
    assert widget["width"] == 24
    metrics = widget["properties"]["metrics"]
    def stat(m: list[Any]) -> tuple[str, str, str]:
        opts = m[-1]
        assert m[:2] == ["kinesis-aggs-consumer", m[1]] and m[2:4] == ["Stream", "input_stream"], m
        return m[1], opts["stat"], opts.get("yAxis", "left")

    assert sorted(stat(m) for m in metrics) == sorted([
        ("GlobalWatermarkLag", "Maximum", "left"), ("WindowsFinalized", "Sum", "right"),
        ("LateRecords", "Sum", "right"), ("RefusedForFinalWindow", "Sum", "right")])
    assert widget["properties"]["annotations"]["horizontal"] == [{"value": 600, "label": "lag alarm",
                                                                  "yAxis": "left"}]
    # and the alarm status widget shows the two new alarms
    (status,) = [w for w in body["widgets"] if w["properties"].get("title") == "Alarms"]
    shown = " ".join(strings_in(status))
    for name in ("FinalityViolationAlarm", "FinalityLagAlarm"):
        assert name in shown
