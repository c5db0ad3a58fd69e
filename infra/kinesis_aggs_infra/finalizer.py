"""The finalizer: one Fargate task that marks windows final (``python -m consumer_app finalize``).

Every ``FINALIZE_INTERVAL_SECONDS`` it lists the stream's shards, reads the watermarks the
record processors publish, and marks the aggregate items of the windows that end at or
before the global watermark as final (consumer_app/finality.py, docs/windows.md).  One
task is enough and two at once are harmless (every mark is conditional and idempotent), so
a deploy may overlap the old task with the new one; ECS starts a new task if it exits.

Same image, cluster, network, log group and execution role as the workers; its own task
role, which can do only what a finalizer pass does.  The container has no health check:
the image's HEALTHCHECK checks the KCL daemon, which this task does not run, and ECS runs
only the health check of the task definition (none here), never the image's.
"""

from __future__ import annotations

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from kinesis_aggs_infra.config import InfraConfig
from kinesis_aggs_infra.data import DataPlane
from kinesis_aggs_infra.service import WorkerService, app_container, fargate_task

#: The container's command: the image's ENTRYPOINT is ``tini ... python -m consumer_app``.
FINALIZE_COMMAND = ("finalize",)
#: The smallest Fargate size: a pass is a few API calls every few seconds.
FINALIZER_CPU, FINALIZER_MEMORY_MIB = 256, 512
#: ListShards: the shards whose watermarks make the global one (consumer_app/finality.py).
STREAM_ACTIONS = ("kinesis:ListShards",)
#: A consistent Scan of the shards' watermarks; UpdateItem of its own item
#: (consumer_app.tables.FINALITY_ITEM: how far windows are marked final); DescribeTable for
#: its start-up check of the key schema (as for the aggregates table).
WATERMARKS_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:UpdateItem")
#: Query a vendor's windows, then a conditional UpdateItem that sets final/finalAt.
AGGREGATES_FINALIZE_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:Query", "dynamodb:UpdateItem")


class Finalizer(Construct):
    """Task role, task definition and a one-task Fargate service in the workers' cluster."""

    def __init__(self, scope: Construct, construct_id: str, cfg: InfraConfig, data: DataPlane,
                 workers: WorkerService) -> None:
        super().__init__(scope, construct_id)
        self.task_role = iam.Role(
            self, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=(f"Finalizer of {cfg.application_name}: list the shards of {cfg.stream_name}, "
                         "read the watermarks, mark aggregate windows final"))
        for statement in (
            iam.PolicyStatement(sid="StreamShards", actions=list(STREAM_ACTIONS),
                                resources=[data.stream.stream_arn]),
            iam.PolicyStatement(sid="Watermarks", actions=list(WATERMARKS_ACTIONS),
                                resources=[data.watermarks.table_arn]),
            iam.PolicyStatement(sid="AggregatesFinalize", actions=list(AGGREGATES_FINALIZE_ACTIONS),
                                resources=[data.aggregates.table_arn]),
            data.tables_key_statement(),  # tableEncryption=CUSTOMER_MANAGED only
        ):
            if statement is not None:
                self.task_role.add_to_principal_policy(statement)
        # The workers' execution role already pulls this image and writes to this log group.
        self.task_definition = fargate_task(
            self, "Task", cfg, cpu=FINALIZER_CPU, memory_mib=FINALIZER_MEMORY_MIB,
            task_role=self.task_role, execution_role=workers.task_definition.obtain_execution_role())
        self.container = app_container(
            self.task_definition, "finalizer", image=workers.image,
            environment=cfg.finalizer_environment_vars(), log_group=workers.log_group,
            stream_prefix="finalizer", command=list(FINALIZE_COMMAND))
        self.service = ecs.FargateService(
            self, "Service",
            cluster=workers.cluster,
            task_definition=self.task_definition,
            desired_count=1,
            # the new task starts before the old one stops: two finalizers for a moment are harmless
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            platform_version=ecs.FargatePlatformVersion.LATEST,
            **workers.placement(),
        )
