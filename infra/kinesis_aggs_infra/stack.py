"""The stack: data plane, workers, finalizer and observability, plus the cdk-nag acknowledgments."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Aws, CfnOutput, Stack, Token, Validations
from constructs import Construct

from kinesis_aggs_infra.config import InfraConfig
from kinesis_aggs_infra.data import DataPlane
from kinesis_aggs_infra.finalizer import Finalizer
from kinesis_aggs_infra.observability import Observability, dashboard_name
from kinesis_aggs_infra.service import WorkerService


class ConsumerStack(Stack):
    """Everything ``cdk deploy`` creates and ``cdk destroy`` removes (tables per removalPolicy)."""

    def __init__(self, scope: Construct, construct_id: str, cfg: InfraConfig, docker_context: Path,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=(
            f"KCL consumer {cfg.application_name}: Kinesis {cfg.stream_name} -> DynamoDB "
            f"{cfg.aggregates_table_name} on ECS Fargate"), **kwargs)
        self.cfg = cfg
        self.data = DataPlane(self, "Data", cfg)
        self.workers = WorkerService(self, "Workers", cfg, self.data, docker_context)
        self.finalizer = Finalizer(self, "Finalizer", cfg, self.data, self.workers)
        self.observability = Observability(self, "Observability", cfg, self.data, self.workers)
        outputs = {
            "StreamName": self.data.stream.stream_name,
            "AggregatesTableName": self.data.aggregates.table_name,
            "RejectsTableName": self.data.rejects.table_name,
            "WatermarksTableName": self.data.watermarks.table_name,
            "LeaseTableName": cfg.application_name,
            "ClusterName": self.workers.cluster.cluster_name,
            "ServiceName": self.workers.service.service_name,
            "FinalizerServiceName": self.finalizer.service.service_name,
            "LogGroupName": self.workers.log_group.log_group_name,
            "DashboardName": dashboard_name(cfg),
            "DashboardUrl": (f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region="
                             f"{Aws.REGION}#dashboards:name={dashboard_name(cfg)}"),
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
        acknowledge_nag_findings(self)


def _nag_part(value: str, pseudo: str) -> str:
    """cdk-nag spells an unresolved region or account as <AWS::Region> / <AWS::AccountId>."""
    return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value


def cfn_logical_id(path: str) -> str:
    """The logical id CDK gives the L1 resource at ``path`` below the stack ("Data/Stream/Resource").

    CDK's rule for a path without "Default" parts or repeated names: the parts without the
    last "Resource", then the first 8 hex digits (upper case) of the MD5 of the whole path.
    tests/infra/test_stack.py checks it against the synthesized stream.
    """
    parts = path.split("/")
    human = "".join(x for x in parts if x != "Resource")
    return human + hashlib.md5(path.encode(), usedforsecurity=False).hexdigest()[:8].upper()


def nag_acknowledgments(cfg: InfraConfig, region: str, account: str) -> list[tuple[str, str, str]]:
    """(construct path below the stack, cdk-nag finding, reason): the findings that stay.

    Each is acknowledged on the one construct it is about, never stack-wide, so a new
    finding anywhere else still fails the synth.
    """
    index_arn = (f"arn:<AWS::Partition>:dynamodb:{_nag_part(region, 'Region')}:"
                 f"{_nag_part(account, 'AccountId')}:table/{cfg.application_name}/index/*")
    acks = [
        ("Workers/TaskRole/DefaultPolicy/Resource", f"AwsSolutions::AwsSolutions-IAM5[Resource::{index_arn}]",
         "KCL queries the lease table's index LeaseOwnerToLeaseKeyIndex, which KCL itself creates; "
         f"index/* covers only the indexes of the lease table {cfg.application_name}, and only "
         "dynamodb:Query"),
        ("Workers/TaskRole/DefaultPolicy/Resource", "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
         "cloudwatch:PutMetricData has no resource-level permissions; the statement is limited by the "
         f"condition cloudwatch:namespace = {cfg.application_name}, the namespace KCL publishes to"),
        ("Workers/Task/ExecutionRole/DefaultPolicy/Resource", "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
         "ecr:GetAuthorizationToken (added by CDK to pull the image asset) has no resource-level "
         "permissions; the layer and image pull actions are limited to the asset repository"),
        ("Workers/Task/Resource", "AwsSolutions::AwsSolutions-ECS2",
         "The environment holds non-secret settings only (stream and table names, window, retry "
         "budget, log level); AWS credentials come from the task role, and the worker has no secret"),
        ("Finalizer/Task/Resource", "AwsSolutions::AwsSolutions-ECS2",
         "The finalizer's environment holds non-secret settings only (stream and table names, window, "
         "pass interval, log level, metrics mode); AWS credentials come from its task role"),
    ]
    # Findings that only a non-default setting produces: the setting is the deployer's choice.
    if cfg.fan_out:
        consumer = f"<{cfn_logical_id('Data/Stream/Resource')}.Arn>/consumer/{cfg.application_name}:*"
        acks.append(("Workers/TaskRole/DefaultPolicy/Resource",
                     f"AwsSolutions::AwsSolutions-IAM5[Resource::{consumer}]",
                     "retrievalMode=FANOUT: KCL registers the stream consumer named after the application "
                     f"({cfg.application_name}); its ARN ends in the creation time, known only once it "
                     "is registered, so ':*' stands for that timestamp, and only "
                     "DescribeStreamConsumer and SubscribeToShard are allowed on it"))
    if cfg.stream_encryption == "KMS":
        acks.append(("Data/Stream/Resource", "AwsSolutions::AwsSolutions-KDS3",
                     "streamEncryption=KMS: the deployer asked for a customer-managed key (rotated, "
                     "owned by this stack) instead of aws/kinesis, to control the key policy"))
    if not cfg.point_in_time_recovery:
        for table in ("Aggregates", "Rejects", "Watermarks"):
            acks.append((f"Data/{table}/Resource", "AwsSolutions::AwsSolutions-DDB3",
                         "pointInTimeRecovery=false: the deployer turned backups off (for a short-lived "
                         "test deployment); what the tables hold comes from the stream and can be "
                         "rebuilt by replaying it within its retention"))
    return acks


def acknowledge_nag_findings(stack: ConsumerStack) -> None:
    for path, rule, reason in nag_acknowledgments(stack.cfg, stack.region, stack.account):
        node = _find(stack, path)
        if node is None:
            raise LookupError(f"nag acknowledgment {rule}: no construct at {stack.node.path}/{path}")
        Validations.of(node).acknowledge(Acknowledgment(id=rule, reason=reason))


def _find(stack: Stack, path: str) -> Construct | None:
    node: Construct | None = stack
    for part in path.split("/"):
        node = node.node.try_find_child(part) if node is not None else None
    return node
