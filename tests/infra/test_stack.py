"""The synthesized templates: resources, keys, IAM, scaling, alarms, nag, for each combination."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match
from kinesis_aggs_infra.build import build_app
from kinesis_aggs_infra.config import ConfigError
from kinesis_aggs_infra.service import FAN_OUT_CONSUMER_ACTIONS, FAN_OUT_STREAM_ACTIONS
from kinesis_aggs_infra.stack import cfn_logical_id, nag_acknowledgments

from consumer_app.rules.validation import REASONS
from tests.container.dockerfile import stages
from tests.infra.conftest import (
    ACCOUNT,
    ALARM_TOPIC,
    COMBINATIONS,
    EXISTING_VPC,
    PRIVATE_SUBNETS,
    REGION,
)
from tests.support.cfn import Synth, alarms_of, container, flat, logical_id, statements, strings_in

pytestmark = pytest.mark.infra

ALL = list(COMBINATIONS)
#: the combinations with retrievalMode=FANOUT (every other one polls)
FAN_OUT = [name for name, (ctx, _) in COMBINATIONS.items() if ctx.get("retrievalMode") == "FANOUT"]
POLLING = [name for name in ALL if name not in FAN_OUT]
#: every Kinesis action about stream consumers (enhanced fan-out)
FAN_OUT_ACTIONS = ("SubscribeToShard", "RegisterStreamConsumer", "DescribeStreamConsumer",
                   "ListStreamConsumers", "DeregisterStreamConsumer")


def arn(s: Synth, table: str) -> str:
    region = REGION if s.name == "existing_vpc" else "${AWS::Region}"
    account = ACCOUNT if s.name == "existing_vpc" else "${AWS::AccountId}"
    return f"arn:${{AWS::Partition}}:dynamodb:{region}:{account}:table/{table}"


# -- every combination ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_no_warnings_or_errors_annotated(synths: dict[str, Synth], name: str) -> None:
    annotations = Annotations.from_stack(synths[name].stack)
    assert annotations.find_warning("*", Match.any_value()) == []
    assert annotations.find_error("*", Match.any_value()) == []


@pytest.mark.parametrize("name", ALL)
def test_cdk_nag_clean_with_explained_acknowledgments(synths: dict[str, Synth], name: str) -> None:
    s = synths[name]
    reports = {r["pluginName"]: r for r in s.validation_report()["pluginReports"]}
    nag = reports["AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    expected = {(f"{s.stack.stack_name}/{path}", rule): reason
                for path, rule, reason in nag_acknowledgments(s.cfg, s.stack.region, s.stack.account)}
    acknowledged = {(v["acknowledgedAt"], v["acknowledgedId"]): v["reason"]
                    for v in nag["suppressedViolations"]}
    assert acknowledged == expected
    assert len(expected) == {"options": 9, "fanout": 6}.get(name, 5)
    for reason in expected.values():
        assert len(reason) > 60  # a specific reason, not "ok"
    # CloudFormation's own template checks, run by the CDK at synth, found nothing either
    for plugin, report in reports.items():
        assert report["violations"] == [], plugin


@pytest.mark.parametrize("name", ALL)
def test_no_star_resource_except_where_aws_requires_it(synths: dict[str, Synth], name: str) -> None:
    s = synths[name]
    allowed = {("cloudwatch:PutMetricData",), ("ecr:GetAuthorizationToken",)}
    for policy in s.of_type("AWS::IAM::Policy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert not any(a.endswith("*") for a in actions), actions
            if "*" in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]):
                assert tuple(actions) in allowed, actions
                if actions == ["cloudwatch:PutMetricData"]:
                    assert st["Condition"] == {
                        "StringEquals": {"cloudwatch:namespace": "kinesis-aggs-consumer"}}


@pytest.mark.parametrize("name", ALL)
def test_the_workers_retrieve_as_the_combination_says(synths: dict[str, Synth], name: str) -> None:
    """The workers are told to fan out exactly in the FAN_OUT combinations and to poll in every
    other one, so that the POLLING and FAN_OUT tests read the stacks they mean to."""
    s = synths[name]
    env = {e["Name"]: e["Value"] for e in container(s)["Environment"]}
    assert env["RETRIEVAL_MODE"] == ("FANOUT" if name in FAN_OUT else "POLLING")
    assert s.cfg.fan_out is (name in FAN_OUT)


@pytest.mark.parametrize("name", POLLING)
def test_polling_has_no_enhanced_fan_out_permissions(synths: dict[str, Synth], name: str) -> None:
    text = json.dumps(synths[name].template.to_json())  # no policy, role or resource anywhere
    for action in (*FAN_OUT_ACTIONS, "kinesis:*", "dynamodb:*", "/consumer/"):
        assert action not in text
    assert synths[name].of_type("AWS::Kinesis::StreamConsumer") == {}


@pytest.mark.parametrize("name", FAN_OUT)
def test_fan_out_grants_are_scoped_to_the_consumer(synths: dict[str, Synth], name: str) -> None:
    """FANOUT adds exactly two statements to the task role; every other statement is unchanged."""
    s, polling = synths[name], synths["default"]
    stream = logical_id(s, s.stack.data.stream)
    got = statements(s, "WorkersTaskRoleDefaultPolicy")
    base = statements(polling, "WorkersTaskRoleDefaultPolicy")
    assert {k: v for k, v in got.items() if not k.startswith("FanOut")} == base
    assert {k: v for k, v in got.items() if k.startswith("FanOut")} == {
        "FanOutRegister": {"actions": ["kinesis:RegisterStreamConsumer"], "resources": [f"${{{stream}.Arn}}"],
                           "condition": None, "effect": "Allow"},
        "FanOutSubscribe": {"actions": ["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"],
                            "resources": [f"${{{stream}.Arn}}/consumer/kinesis-aggs-consumer:*"],
                            "condition": None, "effect": "Allow"},
    }
    assert sorted(FAN_OUT_STREAM_ACTIONS + FAN_OUT_CONSUMER_ACTIONS) == [
        "kinesis:DescribeStreamConsumer", "kinesis:RegisterStreamConsumer", "kinesis:SubscribeToShard"]
    # nowhere else: no other policy (the execution role's) and no other statement names one
    text = json.dumps(s.of_type("AWS::IAM::Policy"))
    for action in ("ListStreamConsumers", "DeregisterStreamConsumer", "kinesis:*", "dynamodb:*",
                   "kinesis:TagResource"):
        assert action not in text
    assert text.count("kinesis:SubscribeToShard") == text.count("kinesis:RegisterStreamConsumer") == 1
    assert text.count("kinesis:DescribeStreamConsumer") == 1
    # KCL registers the consumer itself: the stack creates none
    assert s.of_type("AWS::Kinesis::StreamConsumer") == {}
    assert {e["Name"]: e["Value"] for e in container(s)["Environment"]}["RETRIEVAL_MODE"] == "FANOUT"
    # everything but the task role's policy and the container's RETRIEVAL_MODE is the default stack
    assert sorted(s.resources) == sorted(polling.resources)


def test_fan_out_consumer_name_is_the_application_name(docker_context: Any, tmp_path: Any) -> None:
    """KCL names the consumer after applicationName: the grant follows a custom name."""
    _, stack, _ = build_app({"retrievalMode": "fanout", "applicationName": "trips-efo"},
                            docker_context=docker_context, outdir=tmp_path)
    text = json.dumps(stack.resolve(stack.workers.task_role.node.find_child("DefaultPolicy")
                                    .document.to_json()))
    assert "/consumer/trips-efo:*" in text and "/consumer/kinesis-aggs-consumer" not in text


def test_stream_logical_id_for_the_nag_acknowledgment(synths: dict[str, Synth]) -> None:
    s = synths["fanout"]
    assert cfn_logical_id("Data/Stream/Resource") == logical_id(s, s.stack.data.stream)


@pytest.mark.parametrize("name", ALL)
def test_workers_in_proportion_to_shards(synths: dict[str, Synth], name: str) -> None:
    s = synths[name]
    _, target = s.one("AWS::ApplicationAutoScaling::ScalableTarget")
    _, service = s.owned("AWS::ECS::Service", "Workers")
    lo, hi = target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]
    desired = service["Properties"]["DesiredCount"]
    assert lo == desired <= hi
    if s.cfg.provisioned:
        shards = s.cfg.shard_count
        assert desired == max(s.cfg.min_workers, math.ceil(shards / s.cfg.shards_per_worker))
        assert hi <= shards


@pytest.mark.parametrize("name", ALL)
def test_stop_timeout_exceeds_shutdown_grace(synths: dict[str, Synth], name: str) -> None:
    c = container(synths[name])
    env = {e["Name"]: e["Value"] for e in c["Environment"]}
    assert c["StopTimeout"] * 1000 > int(env["SHUTDOWN_GRACE_MILLIS"]) + 2000


@pytest.mark.parametrize("name", ALL)
def test_every_container_drops_every_capability(synths: dict[str, Synth], name: str) -> None:
    """Both tasks' containers: no Linux capability, nothing privileged, the image's user and
    group, a read-only root; and no dockerSecurityOptions, which ECS does not take on Fargate
    (no-new-privileges is made up for by the image: no setuid or setgid file)."""
    tasks = synths[name].of_type("AWS::ECS::TaskDefinition")
    assert len(tasks) == 2
    for task in tasks.values():
        for c in task["Properties"]["ContainerDefinitions"]:
            assert c["LinuxParameters"] == {"Capabilities": {"Drop": ["ALL"]}}, c["Name"]
            assert "DockerSecurityOptions" not in c and "Privileged" not in c, c["Name"]
            assert (c["User"], c["ReadonlyRootFilesystem"]) == ("10001:10001", True), c["Name"]


@pytest.mark.parametrize("name", ALL)
def test_the_scratch_mount_is_a_volume_of_the_image(synths: dict[str, Synth], name: str) -> None:
    """Fargate task storage is root's, mode 0755, unless the image declares its path a VOLUME
    (ECS then takes the image's directory): the runtime's /tmp is one, owned by the task's user."""
    runtime = stages()[-1]
    for task in synths[name].of_type("AWS::ECS::TaskDefinition").values():
        (c,) = task["Properties"]["ContainerDefinitions"]
        (mount,) = c["MountPoints"]
        assert json.loads(runtime.last("VOLUME") or "[]") == [mount["ContainerPath"]]
        assert f"chown {c['User']} {mount['ContainerPath']}" in " ".join(runtime.all("RUN"))


# -- the default app -----------------------------------------------------------------------
def test_default_resource_counts(synths: dict[str, Synth]) -> None:
    t = synths["default"].template
    for cfn_type, count in {
        "AWS::Kinesis::Stream": 1, "AWS::DynamoDB::Table": 3, "AWS::ECS::Cluster": 1,
        "AWS::ECS::TaskDefinition": 2, "AWS::ECS::Service": 2, "AWS::EC2::VPC": 1, "AWS::EC2::Subnet": 2,
        "AWS::EC2::NatGateway": 0, "AWS::EC2::InternetGateway": 1, "AWS::EC2::FlowLog": 1,
        "AWS::EC2::SecurityGroup": 1, "AWS::ApplicationAutoScaling::ScalableTarget": 1,
        "AWS::ApplicationAutoScaling::ScalingPolicy": 3, "AWS::CloudWatch::Alarm": 9,
        "AWS::CloudWatch::Dashboard": 1, "AWS::Logs::LogGroup": 2, "AWS::IAM::Role": 4,
        "AWS::KMS::Key": 0, "AWS::Lambda::Function": 0, "AWS::SNS::Topic": 0,
    }.items():
        t.resource_count_is(cfn_type, count)


def test_default_stream(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    _, stream = s.one("AWS::Kinesis::Stream")
    assert stream["Properties"] == {
        "Name": "input_stream", "RetentionPeriodHours": 24,
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
        "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
    }
    assert stream["DeletionPolicy"] == "Delete"


def test_table_key_schemas(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    tables = {t["Properties"]["TableName"]: t for t in s.of_type("AWS::DynamoDB::Table").values()}
    assert set(tables) == {"kinesisAggs", "kinesisAggs-rejects", "kinesisAggs-watermarks"}
    aggs, rejects = tables["kinesisAggs"], tables["kinesisAggs-rejects"]
    watermarks = tables["kinesisAggs-watermarks"]
    def keys(table: dict[str, Any]) -> list[tuple[str, str, str]]:
        types = {a["AttributeName"]: a["AttributeType"] for a in table["Properties"]["AttributeDefinitions"]}
        assert len(types) == len(table["Properties"]["KeySchema"])  # key attributes only
        return [(k["AttributeName"], k["KeyType"], types[k["AttributeName"]])
                for k in table["Properties"]["KeySchema"]]

    assert keys(aggs) == [("vendorId", "HASH", "N"), ("windowStart", "RANGE", "S")]
    assert keys(rejects) == [("shardId", "HASH", "S"), ("sequence", "RANGE", "S")]
    assert keys(watermarks) == [("shardId", "HASH", "S")]  # one item per shard: no sort key
    assert rejects["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert "TimeToLiveSpecification" not in aggs["Properties"]
    assert "TimeToLiveSpecification" not in watermarks["Properties"]
    for table in (aggs, rejects, watermarks):
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert "SSESpecification" not in table["Properties"]  # tableEncryption=AWS_OWNED: DynamoDB's key
        assert "GlobalSecondaryIndexes" not in table["Properties"]


def test_task_role_least_privilege(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    stream = logical_id(s, s.stack.data.stream)
    aggs, rejects = logical_id(s, s.stack.data.aggregates), logical_id(s, s.stack.data.rejects)
    watermarks = logical_id(s, s.stack.data.watermarks)
    lease = arn(s, "kinesis-aggs-consumer")
    assert statements(s, "WorkersTaskRoleDefaultPolicy") == {
        "KinesisRead": {
            "actions": ["kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator",
                        "kinesis:ListShards"],
            "resources": [f"${{{stream}.Arn}}"], "condition": None, "effect": "Allow"},
        "LeaseTable": {
            "actions": ["dynamodb:CreateTable", "dynamodb:DeleteItem", "dynamodb:DescribeTable",
                        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
                        "dynamodb:UpdateItem", "dynamodb:UpdateTable"],
            "resources": [lease], "condition": None, "effect": "Allow"},
        "LeaseTableIndex": {"actions": ["dynamodb:Query"], "resources": [f"{lease}/index/*"],
                            "condition": None, "effect": "Allow"},
        "LegacyCoordinatorTables": {
            "actions": ["dynamodb:DescribeTable"],
            "resources": [f"{lease}-CoordinatorState", f"{lease}-WorkerMetricStats"],
            "condition": None, "effect": "Allow"},
        "AggregatesWrite": {"actions": ["dynamodb:DescribeTable", "dynamodb:UpdateItem"],
                            "resources": [f"${{{aggs}.Arn}}"], "condition": None, "effect": "Allow"},
        "RejectsWrite": {"actions": ["dynamodb:BatchWriteItem", "dynamodb:DescribeTable"],
                         "resources": [f"${{{rejects}.Arn}}"], "condition": None, "effect": "Allow"},
        # final windows: is the window already final (a consistent read of its item), and the
        # shard's own watermark, read at start and moved as records are applied (and the
        # table's key schema checked at start, as for the other two)
        "AggregatesRead": {"actions": ["dynamodb:GetItem"], "resources": [f"${{{aggs}.Arn}}"],
                           "condition": None, "effect": "Allow"},
        "WatermarksPublish": {"actions": ["dynamodb:DescribeTable", "dynamodb:GetItem",
                                          "dynamodb:UpdateItem"],
                              "resources": [f"${{{watermarks}.Arn}}"], "condition": None, "effect": "Allow"},
        "KclMetrics": {"actions": ["cloudwatch:PutMetricData"], "resources": ["*"],
                       "condition": {"StringEquals": {"cloudwatch:namespace": "kinesis-aggs-consumer"}},
                       "effect": "Allow"},
    }


def test_execution_role_pulls_the_image_and_writes_logs_only(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    logs = logical_id(s, s.stack.workers.log_group)
    got = statements(s, "WorkersTaskExecutionRoleDefaultPolicy")
    assert [v["actions"] for v in got.values()] == [
        ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        ["ecr:GetAuthorizationToken"],
        ["logs:CreateLogStream", "logs:PutLogEvents"],
    ]
    assert got["0"]["resources"][0].endswith(":repository/cdk-hnb659fds-container-assets-"
                                             "${AWS::AccountId}-${AWS::Region}")
    assert got["1"]["resources"] == ["*"]
    assert got["2"]["resources"] == [f"${{{logs}.Arn}}"]


def test_container(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    c = container(s)
    env = {e["Name"]: flat(e["Value"]) for e in c["Environment"]}
    assert env == {
        "STREAM_NAME": "input_stream", "AGGREGATES_TABLE": "kinesisAggs",
        "REJECTS_TABLE": "kinesisAggs-rejects", "APPLICATION_NAME": "kinesis-aggs-consumer",
        "KCL_PROFILE": "aws", "HEARTBEAT_DIR": "/tmp/kcl-health", "HEALTH_MAX_AGE_SECONDS": "180",
        "SHUTDOWN_GRACE_MILLIS": "25000", "WINDOW_SECONDS": "30", "INITIAL_POSITION": "TRIM_HORIZON",
        "RETRY_MAX_ATTEMPTS": "50", "RETRY_MAX_SECONDS": "120", "REJECT_TTL_DAYS": "14", "LOG_LEVEL": "INFO",
        "STATS_INTERVAL_SECONDS": "30", "RETRIEVAL_MODE": "POLLING",
        "WATERMARKS_TABLE": "kinesisAggs-watermarks", "WATERMARK_MARGIN_MILLIS": "5000",
        "AWS_REGION": "${AWS::Region}", "AWS_DEFAULT_REGION": "${AWS::Region}",
    }
    assert c["HealthCheck"] == {"Command": ["CMD", "python", "-m", "consumer_app", "health"],
                                "Interval": 10, "Timeout": 10, "Retries": 3, "StartPeriod": 120}
    assert c["StopTimeout"] == 40
    # production hardening: the image's non-root user, a read-only root with a writable /tmp
    assert c["User"] == "10001:10001" and c["ReadonlyRootFilesystem"] is True
    assert c["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}]
    task = s.owned("AWS::ECS::TaskDefinition", "Workers")[1]["Properties"]
    assert task["Volumes"] == [{"Name": "tmp"}]
    assert "InitProcessEnabled" not in c["LinuxParameters"]  # the image's tini is PID 1
    assert c["Essential"] is True
    log_group = logical_id(s, s.stack.workers.log_group)
    assert c["LogConfiguration"]["LogDriver"] == "awslogs"
    assert c["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": log_group}
    assert s.resources[log_group]["Properties"]["RetentionInDays"] == 30
    assert s.resources[log_group]["DeletionPolicy"] == "Retain"
    assert "container-assets" in flat(c["Image"])
    _, task = s.owned("AWS::ECS::TaskDefinition", "Workers")
    assert (task["Properties"]["Cpu"], task["Properties"]["Memory"]) == ("1024", "2048")
    assert task["Properties"]["RuntimePlatform"] == {"CpuArchitecture": "X86_64",
                                                     "OperatingSystemFamily": "LINUX"}
    assert task["Properties"]["RequiresCompatibilities"] == ["FARGATE"]


def test_service(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    _, service = s.owned("AWS::ECS::Service", "Workers")
    p = service["Properties"]
    assert p["LaunchType"] == "FARGATE"
    assert p["DesiredCount"] == 1
    assert p["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert (p["DeploymentConfiguration"]["MinimumHealthyPercent"],
            p["DeploymentConfiguration"]["MaximumPercent"]) == (100, 200)
    vpc_conf = p["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert vpc_conf["AssignPublicIp"] == "ENABLED"
    public = {k for k, v in s.of_type("AWS::EC2::Subnet").items() if v["Properties"]["MapPublicIpOnLaunch"]}
    assert {flat(x)[2:-1] for x in vpc_conf["Subnets"]} == public and len(public) == 2
    _, sg = s.one("AWS::EC2::SecurityGroup")
    assert sg["Properties"]["SecurityGroupEgress"] == [{
        "CidrIp": "0.0.0.0/0", "Description": "HTTPS to AWS APIs (ECR, Kinesis, DynamoDB, CloudWatch, STS)",
        "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}]
    assert "SecurityGroupIngress" not in sg["Properties"]
    _, cluster = s.one("AWS::ECS::Cluster")
    assert cluster["Properties"]["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]
    _, flow = s.one("AWS::EC2::FlowLog")
    assert flow["Properties"]["TrafficType"] == "REJECT"


def test_scaling_policies(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    _, target = s.one("AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (1, 4)
    policies = {v["Properties"]["PolicyName"].split("TaskCountTarget")[1][:-8]: v["Properties"]
                for v in s.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values()}
    assert set(policies) == {"CpuTarget", "LagScaleOutUpperPolicy", "LagScaleInLowerPolicy"}
    cpu = policies["CpuTarget"]["TargetTrackingScalingPolicyConfiguration"]
    assert cpu == {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        "ScaleInCooldown": 900, "ScaleOutCooldown": 120, "TargetValue": 70}
    out = policies["LagScaleOutUpperPolicy"]["StepScalingPolicyConfiguration"]
    assert out["Cooldown"] == 120
    assert out["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 240000, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 240000, "ScalingAdjustment": 2}]
    scale_in = policies["LagScaleInLowerPolicy"]["StepScalingPolicyConfiguration"]
    assert scale_in["Cooldown"] == 900
    assert scale_in["StepAdjustments"] == [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": -1}]
    alarms = {a["Properties"]["AlarmDescription"]: a["Properties"]
              for a in s.of_type("AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "GetRecords.IteratorAgeMilliseconds"}
    upper, lower = alarms["Upper threshold scaling alarm"], alarms["Lower threshold scaling alarm"]
    assert (upper["Threshold"], upper["ComparisonOperator"], upper["EvaluationPeriods"]) == \
        (60000, "GreaterThanOrEqualToThreshold", 3)
    assert (lower["Threshold"], lower["ComparisonOperator"], lower["EvaluationPeriods"]) == \
        (5000, "LessThanOrEqualToThreshold", 15)
    assert upper["Statistic"] == lower["Statistic"] == "Maximum"


def test_alarms(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    alarms = alarms_of(s)
    assert set(alarms) == {"IteratorAgeAlarm", "ThrottlingAlarm", "TasksBelowDesiredAlarm",
                           "RejectsShareAlarm", "FinalityViolationAlarm", "FinalityLagAlarm",
                           "BlockedShardAlarm"}
    blocked = alarms["BlockedShardAlarm"]
    (metric,) = blocked["Metrics"]
    stat = metric["MetricStat"]
    assert (stat["Metric"]["MetricName"], stat["Metric"]["Namespace"], stat["Stat"], blocked["Threshold"],
            blocked["ComparisonOperator"], blocked["TreatMissingData"]) == \
        ("ShardBlockedSeconds", "kinesis-aggs-consumer", "Maximum", 300,
         "GreaterThanOrEqualToThreshold", "notBreaching")
    assert stat["Metric"]["Dimensions"] == [{"Name": "Stream", "Value": "input_stream"}]
    age = alarms["IteratorAgeAlarm"]
    assert (age["Threshold"], age["EvaluationPeriods"], age["DatapointsToAlarm"],
            age["TreatMissingData"]) == (300000, 5, 5, "breaching")
    (metric,) = age["Metrics"]
    assert metric["MetricStat"]["Metric"]["MetricName"] == "GetRecords.IteratorAgeMilliseconds"
    assert metric["MetricStat"]["Stat"] == "Maximum"
    throttle = alarms["ThrottlingAlarm"]
    assert (throttle["Threshold"], throttle["EvaluationPeriods"], throttle["ComparisonOperator"]) == \
        (0, 5, "GreaterThanThreshold")
    watched = {(m["MetricStat"]["Metric"]["MetricName"],
                flat(m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]))
               for m in throttle["Metrics"] if "MetricStat" in m}
    stream = logical_id(s, s.stack.data.stream)
    assert watched == {("WriteThrottleEvents", "kinesisAggs"), ("WriteThrottleEvents", "kinesisAggs-rejects"),
                       ("WriteThrottleEvents", "kinesis-aggs-consumer"),
                       ("ReadThrottleEvents", "kinesis-aggs-consumer"),
                       ("ReadProvisionedThroughputExceeded", f"${{{stream}}}")}
    tasks = alarms["TasksBelowDesiredAlarm"]
    assert tasks["Metrics"][0]["Expression"] == "desired - running"
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in tasks["Metrics"][1:]} == \
        {"DesiredTaskCount", "RunningTaskCount"}
    assert (tasks["EvaluationPeriods"], tasks["Threshold"]) == (10, 0)
    rejects = alarms["RejectsShareAlarm"]
    assert (rejects["Threshold"], rejects["EvaluationPeriods"], rejects["DatapointsToAlarm"],
            rejects["ComparisonOperator"], rejects["TreatMissingData"]) == \
        (5, 5, 5, "GreaterThanThreshold", "notBreaching")
    expression = next(m["Expression"] for m in rejects["Metrics"] if "Expression" in m)
    stats = {m["Id"]: m["MetricStat"] for m in rejects["Metrics"] if "MetricStat" in m}
    reasons = {}
    for mid, st in stats.items():
        metric = st["Metric"]
        assert metric["Namespace"] == "kinesis-aggs-consumer" and st["Stat"] == "Sum", st
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert dims.pop("Stream") == "input_stream"
        if metric["MetricName"] == "RejectedRecords":
            reasons[dims["Reason"]] = mid
        else:
            assert (metric["MetricName"], dims, mid) == ("RecordsIn", {}, "records_in")
    assert set(reasons) == set(REASONS)  # every reason the validator gives, none else
    assert all(f"FILL({mid}, 0)" in expression for mid in reasons.values())
    assert expression.startswith("100 * (") and expression.endswith(") / records_in")
    for alarm in alarms.values():
        assert "AlarmActions" not in alarm


def test_rejects_alarm_share_is_a_setting(synths: dict[str, Synth]) -> None:
    assert alarms_of(synths["options"])["RejectsShareAlarm"]["Threshold"] == 12.5


def test_dashboard(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    _, dash = s.one("AWS::CloudWatch::Dashboard")
    assert dash["Properties"]["DashboardName"] == "kinesis-aggs-consumer"
    body = json.loads(flat(dash["Properties"]["DashboardBody"]))
    titles = [w["properties"].get("title") for w in body["widgets"]]
    assert titles == ["Lag: iterator age (ms)", "Records in and out (per minute)",
                      "Rejects by reason (per minute)", "Throttled requests (per minute)",
                      "Our writes: throttled attempts by kind, retries (per minute)",
                      "Replays absorbed by the fence, aggregate writes (per minute)",
                      "Batch processing time (ms)",
                      "Lag seen by the processors: millisBehindLatest (max, ms)",
                      "Workers: running vs desired tasks", "Worker CPU and memory (%)",
                      "Final windows: global watermark lag (max, s); windows finalized, late and refused "
                      "records (per minute)", "Alarms"]
    strings = set(strings_in(body))
    for needle in ("GetRecords.IteratorAgeMilliseconds", "IncomingRecords", "GetRecords.Records",
                   "WriteThrottleEvents", "ReadThrottleEvents",
                   "ReadProvisionedThroughputExceeded", "RunningTaskCount", "DesiredTaskCount",
                   "CPUUtilization", "MemoryUtilization"):
        assert needle in strings, needle
    # the processors' own metrics (EMF), under the application's namespace and the Stream dimension
    ours = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])
            if len(m) > 1 and m[0] == "kinesis-aggs-consumer" and "Stream" in m]
    names = {m[1] for m in ours}
    assert {"RecordsIn", "RejectedRecords", "ReplaysSkippedByFence", "ThrottledAttemptsAllFailed",
            "ThrottledAttemptsSomeFailed", "ThrottledWrites", "WriteRetries", "AggregateWrites",
            "Checkpoints", "BatchProcessingTime", "MillisBehindLatest"} <= names, names
    assert {m[m.index("Reason") + 1] for m in ours if "Reason" in m} == set(REASONS)
    for metric, stat in (("MillisBehindLatest", "Maximum"), ("RecordsProcessed", "Sum")):
        search = f"SEARCH('Namespace=\"kinesis-aggs-consumer\" MetricName=\"{metric}\"', '{stat}', 60)"
        assert search in strings


def test_outputs(synths: dict[str, Synth]) -> None:
    outputs = synths["default"].template.to_json()["Outputs"]
    assert {k: flat(v["Value"]) for k, v in outputs.items()
            if k in ("StreamName", "LeaseTableName", "DashboardName")} == {
        "StreamName": f"${{{logical_id(synths['default'], synths['default'].stack.data.stream)}}}",
        "LeaseTableName": "kinesis-aggs-consumer", "DashboardName": "kinesis-aggs-consumer"}
    assert {"AggregatesTableName", "RejectsTableName", "WatermarksTableName", "ClusterName", "ServiceName",
            "FinalizerServiceName", "LogGroupName", "DashboardUrl"} <= set(outputs)
    finalizer = synths["default"].owned("AWS::ECS::Service", "Finalizer")[0]
    assert outputs["FinalizerServiceName"]["Value"] == {"Fn::GetAtt": [finalizer, "Name"]}
    watermarks = logical_id(synths["default"], synths["default"].stack.data.watermarks)
    assert outputs["WatermarksTableName"]["Value"] == {"Ref": watermarks}


# -- provisioned streams ---------------------------------------------------------------------
@pytest.mark.parametrize(("name", "shards", "desired", "ceiling"), [
    ("provisioned4", 4, 2, 4), ("provisioned16", 16, 4, 16)])
def test_provisioned(synths: dict[str, Synth], name: str, shards: int, desired: int, ceiling: int) -> None:
    s = synths[name]
    _, stream = s.one("AWS::Kinesis::Stream")
    assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert stream["Properties"]["ShardCount"] == shards
    _, target = s.one("AWS::ApplicationAutoScaling::ScalableTarget")
    _, service = s.owned("AWS::ECS::Service", "Workers")
    assert service["Properties"]["DesiredCount"] == desired
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (desired, ceiling)


# -- existing VPC ----------------------------------------------------------------------------
def test_existing_vpc(synths: dict[str, Synth]) -> None:
    s = synths["existing_vpc"]
    for cfn_type in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::FlowLog", "AWS::EC2::NatGateway",
                     "AWS::EC2::InternetGateway"):
        s.template.resource_count_is(cfn_type, 0)
    _, service = s.owned("AWS::ECS::Service", "Workers")
    conf = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert conf["AssignPublicIp"] == "DISABLED"
    assert conf["Subnets"] == list(PRIVATE_SUBNETS)
    _, sg = s.one("AWS::EC2::SecurityGroup")
    assert sg["Properties"]["VpcId"] == EXISTING_VPC
    lease = f"arn:${{AWS::Partition}}:dynamodb:{REGION}:{ACCOUNT}:table/kinesis-aggs-consumer"
    index = statements(s, "WorkersTaskRoleDefaultPolicy")["LeaseTableIndex"]
    assert index["resources"] == [f"{lease}/index/*"]


def test_vpc_lookup_needs_an_environment(docker_context: Any, tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="vpcId=vpc-0a1b2c3d4e5f67890: looking up an existing VPC needs"):
        build_app({"vpcId": EXISTING_VPC}, docker_context=docker_context, outdir=tmp_path)


# -- the other options -------------------------------------------------------------------------
def test_options(synths: dict[str, Synth]) -> None:
    s = synths["options"]
    s.template.resource_count_is("AWS::EC2::NatGateway", 1)
    private = {k for k, v in s.of_type("AWS::EC2::Subnet").items()
               if not v["Properties"]["MapPublicIpOnLaunch"]}
    assert len(private) == 2
    _, service = s.owned("AWS::ECS::Service", "Workers")
    conf = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert conf["AssignPublicIp"] == "DISABLED"
    assert {flat(x)[2:-1] for x in conf["Subnets"]} == private
    # customer-managed stream key, rotated, and the workers may decrypt with it
    key_id, key = s.one("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    _, stream = s.one("AWS::Kinesis::Stream")
    assert stream["Properties"]["StreamEncryption"] == {"EncryptionType": "KMS",
                                                        "KeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert stream["Properties"]["RetentionPeriodHours"] == 48
    assert statements(s, "WorkersTaskRoleDefaultPolicy")["StreamKeyDecrypt"] == {
        "actions": ["kms:Decrypt"], "resources": [f"${{{key_id}.Arn}}"], "condition": None, "effect": "Allow"}
    # removalPolicy=DESTROY (with deletionProtection=false): tables and logs go with the stack
    for table in s.of_type("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
        assert table["Properties"]["DeletionProtectionEnabled"] is False
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}  # aws/dynamodb: no grant
        pitr = table["Properties"]["PointInTimeRecoverySpecification"]
        assert pitr == {"PointInTimeRecoveryEnabled": False}
    for group in s.of_type("AWS::Logs::LogGroup").values():
        assert (group["DeletionPolicy"], group["Properties"]["RetentionInDays"]) == ("Delete", 7)
    # alarms notify the topic
    for alarm in alarms_of(s).values():
        assert alarm["AlarmActions"] == [ALARM_TOPIC] and alarm["OKActions"] == [ALARM_TOPIC]
    # ARM task, image built for ARM
    _, task = s.owned("AWS::ECS::TaskDefinition", "Workers")
    assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    assets = json.loads((s.outdir / f"{s.stack.stack_name}.assets.json").read_text())
    (image,) = assets["dockerImages"].values()
    assert image["source"]["platform"] == "linux/arm64"
    # workers: 2..6, stop timeout 60 s for a 50 s grace, extra environment passed through
    _, target = s.one("AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (2, 6)
    c = container(s)
    env = {e["Name"]: e["Value"] for e in c["Environment"]}
    assert (c["StopTimeout"], env["SHUTDOWN_GRACE_MILLIS"], env["WRITE_CONCURRENCY"]) == (60, "50000", "8")


def test_tables_under_a_customer_managed_key(synths: dict[str, Synth]) -> None:
    """tableEncryption=CUSTOMER_MANAGED: one rotated key of the stack for the three tables, kept
    as long as they are; the workers and the finalizer may decrypt with it (DynamoDB decrypts
    each table's own key as the caller), and nothing else changes."""
    s, base = synths["table_cmk"], synths["default"]
    key_id, key = s.one("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    tables = s.of_type("AWS::DynamoDB::Table")
    for table in tables.values():
        assert table["Properties"].pop("SSESpecification") == {
            "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}, "SSEEnabled": True, "SSEType": "KMS"}
    assert tables == base.of_type("AWS::DynamoDB::Table")
    decrypt = {"actions": ["kms:Decrypt"], "resources": [f"${{{key_id}.Arn}}"], "condition": None,
               "effect": "Allow"}
    for policy in ("WorkersTaskRoleDefaultPolicy", "FinalizerTaskRoleDefaultPolicy"):
        got = statements(s, policy)
        assert got.pop("TablesKeyDecrypt") == decrypt, policy
        assert got == statements(base, policy), policy
    assert sorted(s.resources) == sorted([*base.resources, key_id])
    assert "kms:" not in json.dumps(statements(s, "WorkersTaskExecutionRoleDefaultPolicy"))


def test_default_image_is_built_for_x86(synths: dict[str, Synth]) -> None:
    s = synths["default"]
    assets = json.loads((s.outdir / f"{s.stack.stack_name}.assets.json").read_text())
    (image,) = assets["dockerImages"].values()
    assert image["source"]["platform"] == "linux/amd64"
    assert image["source"]["dockerFile"] == "Dockerfile"


def test_bad_settings_fail_the_synth(docker_context: Any, tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match=r"stopTimeoutSeconds=25 must exceed shutdownGraceMillis=25000"):
        build_app({"stopTimeoutSeconds": 25}, docker_context=docker_context, outdir=tmp_path)
