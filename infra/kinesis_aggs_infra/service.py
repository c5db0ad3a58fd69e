"""The workers: network, ECS cluster, Fargate task and service, least-privilege IAM, scaling.

One task is one KCL MultiLangDaemon (``python -m consumer_app run``), which holds some of
the stream's shard leases; KCL spreads the leases over however many tasks run.  So the
task count is what follows the shards, and every change of it moves leases (each move is
a graceful handoff: shutdown_requested, checkpoint, lease_lost), hence the long scale-in
cooldown.

The image, the task definition, the container and the network placement are built by
helpers that the finalizer (``finalizer.py``) uses as well, so both run the image alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, IgnoreMode, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from kinesis_aggs_infra.config import LOG_RETENTION, InfraConfig
from kinesis_aggs_infra.data import DataPlane, data_removal_policy

#: Paths (Docker ignore syntax, relative to the build context) never sent to the image
#: build: environments, caches, build output, VCS data, tests and this CDK app.  Merged
#: with the context's own .dockerignore, if any.  Keeps the staged asset small and its
#: hash stable (an edit under infra/ or tests/ does not rebuild the image).
ASSET_EXCLUDES: tuple[str, ...] = (
    ".git", ".venv", "venv", "node_modules", "build", "dist", "cdk.out", ".local", "tests", "infra",
    ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis", "bench-out", "*.egg-info",
    "**/__pycache__", "**/*.pyc", "**/.DS_Store",
)

HEALTH_COMMAND = ("CMD", "python", "-m", "consumer_app", "health")
#: The image's non-root user and its own group (Dockerfile USER), stated in the task so that
#: ECS enforces both.
WORKER_USER = "10001:10001"
#: The one writable path of the read-only root file system: the rendered properties, the
#: health heartbeats and the JVM's temp files (Fargate task storage, gone with the task).
SCRATCH_VOLUME, SCRATCH_PATH = "tmp", "/tmp"

#: Kinesis actions of a polling KCL consumer, on the stream.  KCL 3.5.1 needs them with
#: enhanced fan-out too: DescribeStreamSummary for the stream's ARN, ListShards for the shard
#: sync, GetShardIterator + GetRecords when the lease cleanup looks up an ended shard's
#: children (KinesisShardDetector.getChildShards, from LeasePendingDeletion).
KINESIS_READ_ACTIONS = ("kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                        "kinesis:GetShardIterator", "kinesis:ListShards")
#: retrievalMode=FANOUT, on the stream: KCL 3 (FanOutConsumerRegistration) registers the
#: consumer when DescribeStreamConsumer finds none.  It never lists, deregisters or tags
#: consumers, so ListStreamConsumers, DeregisterStreamConsumer and TagResource are not granted.
FAN_OUT_STREAM_ACTIONS = ("kinesis:RegisterStreamConsumer",)
#: retrievalMode=FANOUT, on the consumer KCL registers (named after the application, ARN
#: ``<stream ARN>/consumer/<name>:<creation timestamp>``): its status, then one HTTP/2
#: SubscribeToShard per leased shard (renewed every 5 minutes).
FAN_OUT_CONSUMER_ACTIONS = ("kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard")
#: KCL 3 creates the lease table (named after the application) and its GSI, then reads and
#: writes leases, coordinator state and worker metrics in it.
LEASE_TABLE_ACTIONS = ("dynamodb:CreateTable", "dynamodb:DeleteItem", "dynamodb:DescribeTable",
                       "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
                       "dynamodb:UpdateItem", "dynamodb:UpdateTable")
AGGREGATES_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:UpdateItem")
#: A consistent GetItem of an aggregate item: is its window already final (docs/windows.md)?
AGGREGATES_READ_ACTIONS = ("dynamodb:GetItem",)
#: Each record processor reads its shard's watermark at start (GetItem) and publishes it as it
#: moves (UpdateItem); the worker's start-up check describes the table (worker.check_tables).
WATERMARKS_PUBLISH_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:UpdateItem")
#: The rejects are written 25 at a time (BatchWriteItem, consumer_app/dynamo/rejects.py); the
#: start-up check describes the table.  No PutItem: nothing writes a single reject.
REJECTS_ACTIONS = ("dynamodb:BatchWriteItem", "dynamodb:DescribeTable")
#: KCL >= 3.5 probes these pre-3.5 table names once (DescribeTable, expecting not-found).
LEGACY_TABLE_SUFFIXES = ("-CoordinatorState", "-WorkerMetricStats")


def retention(cfg: InfraConfig) -> logs.RetentionDays:
    """logRetentionDays as CDK's enum (a jsii enum: its values are names, not day counts)."""
    return logs.RetentionDays[LOG_RETENTION[cfg.log_retention_days]]


def default_docker_context() -> Path:
    """The repository root (``..`` from infra/), where the Dockerfile lives."""
    return Path(__file__).resolve().parents[2]


# -- shared by every task of the stack (the workers' and the finalizer's) -----------------------
def asset_image(cfg: InfraConfig, docker_context: Path) -> ecs.ContainerImage:
    """The image built from the repository's Dockerfile, for the tasks' CPU architecture."""
    return ecs.ContainerImage.from_asset(
        str(docker_context), file="Dockerfile", exclude=list(ASSET_EXCLUDES),
        ignore_mode=IgnoreMode.DOCKER,
        # build for the task's architecture, whatever machine runs `cdk deploy`
        platform=ecr_assets.Platform.LINUX_ARM64 if cfg.cpu_architecture == "ARM64"
        else ecr_assets.Platform.LINUX_AMD64)


def fargate_task(scope: Construct, construct_id: str, cfg: InfraConfig, *, cpu: int, memory_mib: int,
                 task_role: iam.IRole, execution_role: iam.IRole | None = None) -> ecs.FargateTaskDefinition:
    """A Linux Fargate task definition on ``cpuArchitecture`` (the image is built for it)."""
    arm = cfg.cpu_architecture == "ARM64"
    return ecs.FargateTaskDefinition(
        scope, construct_id, cpu=cpu, memory_limit_mib=memory_mib, task_role=task_role,
        execution_role=execution_role,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=ecs.CpuArchitecture.ARM64 if arm else ecs.CpuArchitecture.X86_64,
            operating_system_family=ecs.OperatingSystemFamily.LINUX))


def app_container(task: ecs.FargateTaskDefinition, construct_id: str, *, image: ecs.ContainerImage,
                  environment: dict[str, str], log_group: logs.ILogGroup, stream_prefix: str,
                  **options: Any) -> ecs.ContainerDefinition:
    """The one container of a task, as the stack runs every container of the image.

    The image's non-root user, stated so that ECS enforces it; no Linux capability; a
    read-only root file system with ``/tmp`` as task storage (the one writable path); logs to
    ``log_group`` under ``stream_prefix``; the stack's region in the environment.  ``options``:
    the rest of :meth:`ecs.FargateTaskDefinition.add_container` (command, health check, stop
    timeout).
    """
    # Nothing in the image needs a Linux capability (a non-root JVM and Python; tini, PID 1,
    # only forwards signals and reaps children): drop them all, as compose.yaml does.  Fargate
    # accepts any drop and adds only SYS_PTRACE.  no-new-privileges, compose's other half, is
    # the container definition's dockerSecurityOptions, which ECS documents as not valid for
    # Fargate tasks (EC2 only), so it is not set: the image has no setuid or setgid file
    # instead (Dockerfile), and its user is not root.
    linux = ecs.LinuxParameters(task, f"{construct_id}LinuxParameters")
    linux.drop_capabilities(ecs.Capability.ALL)
    env = dict(environment)
    env["AWS_REGION"] = Aws.REGION  # the Java SDK inside KCL reads AWS_REGION
    env["AWS_DEFAULT_REGION"] = Aws.REGION  # boto3 reads this one
    container = task.add_container(
        construct_id,
        image=image,
        essential=True,
        environment=env,
        logging=ecs.LogDrivers.aws_logs(stream_prefix=stream_prefix, log_group=log_group),
        user=WORKER_USER,
        linux_parameters=linux,
        readonly_root_filesystem=True,
        **options,
    )
    task.add_volume(name=SCRATCH_VOLUME)
    container.add_mount_points(ecs.MountPoint(
        container_path=SCRATCH_PATH, source_volume=SCRATCH_VOLUME, read_only=False))
    return container


class WorkerService(Construct):
    """VPC (new or looked up), cluster, task definition, Fargate service and its scaling."""

    def __init__(self, scope: Construct, construct_id: str, cfg: InfraConfig, data: DataPlane,
                 docker_context: Path) -> None:
        super().__init__(scope, construct_id)
        self.cfg = cfg
        self.vpc = self._network(cfg)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=self.vpc,
            # running vs desired task counts (dashboard, alarm) come from Container Insights
            container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.log_group = logs.LogGroup(
            self, "WorkerLogs", retention=retention(cfg),
            removal_policy=data_removal_policy(cfg))
        self.task_role = iam.Role(
            self, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"KCL worker {cfg.application_name}: read {cfg.stream_name}, write the tables")
        self._grant(cfg, data)
        self.task_definition = self._task(cfg, docker_context)
        self.security_group = ec2.SecurityGroup(
            self, "WorkerSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="KCL workers: no inbound; outbound HTTPS to AWS APIs only")
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
            "HTTPS to AWS APIs (ECR, Kinesis, DynamoDB, CloudWatch, STS)")
        self.service = ecs.FargateService(
            self, "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=cfg.baseline_workers,
            # Rolling deploys start the new tasks before stopping old ones: leases move once.
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            platform_version=ecs.FargatePlatformVersion.LATEST,
            **self.placement(),
        )
        self.scaling = self._scaling(cfg, data)

    def placement(self) -> dict[str, Any]:
        """Where a service of this stack runs its tasks: the subnets, public IP or not, and the
        security group (no inbound, HTTPS out: all any task here needs to reach the AWS APIs)."""
        return {
            "assign_public_ip": self.cfg.public_tasks,
            "vpc_subnets": ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PUBLIC if self.cfg.public_tasks
                else ec2.SubnetType.PRIVATE_WITH_EGRESS),
            "security_groups": [self.security_group],
        }

    # -- network ------------------------------------------------------------------------
    def _network(self, cfg: InfraConfig) -> ec2.IVpc:
        if cfg.vpc_id:
            return ec2.Vpc.from_lookup(self, "Vpc", vpc_id=cfg.vpc_id)
        subnets = [ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC,
                                           cidr_mask=24)]
        if cfg.nat_gateways:
            subnets.append(ec2.SubnetConfiguration(
                name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22))
        vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=cfg.max_azs,
            # 0 by default: tasks in public subnets with public IPs reach the AWS APIs without
            # a NAT gateway (about 33 USD a month each, plus traffic)
            nat_gateways=cfg.nat_gateways,
            subnet_configuration=subnets,
            # Nothing uses the default security group; closing it takes a Lambda-backed
            # custom resource, which this stack avoids.
            restrict_default_security_group=False,
        )
        flow_logs = logs.LogGroup(self, "VpcFlowLogs", retention=retention(cfg),
                                  removal_policy=data_removal_policy(cfg))
        vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                         traffic_type=ec2.FlowLogTrafficType.REJECT)
        return vpc

    # -- IAM ------------------------------------------------------------------------------
    def _table_arn(self, name: str) -> str:
        return Stack.of(self).format_arn(service="dynamodb", resource="table", resource_name=name)

    @staticmethod
    def consumer_arn_pattern(cfg: InfraConfig, data: DataPlane) -> str:
        """The ARNs of the stream consumer named ``applicationName``, whatever its creation time."""
        return f"{data.stream.stream_arn}/consumer/{cfg.application_name}:*"

    def _grant(self, cfg: InfraConfig, data: DataPlane) -> None:
        app = cfg.application_name
        statements = [
            iam.PolicyStatement(sid="KinesisRead", actions=list(KINESIS_READ_ACTIONS),
                                resources=[data.stream.stream_arn]),
            iam.PolicyStatement(sid="LeaseTable", actions=list(LEASE_TABLE_ACTIONS),
                                resources=[self._table_arn(app)]),
            iam.PolicyStatement(sid="LeaseTableIndex", actions=["dynamodb:Query"],
                                resources=[self._table_arn(f"{app}/index/*")]),
            iam.PolicyStatement(sid="LegacyCoordinatorTables", actions=["dynamodb:DescribeTable"],
                                resources=[self._table_arn(app + s) for s in LEGACY_TABLE_SUFFIXES]),
            iam.PolicyStatement(sid="AggregatesWrite", actions=list(AGGREGATES_ACTIONS),
                                resources=[data.aggregates.table_arn]),
            iam.PolicyStatement(sid="RejectsWrite", actions=list(REJECTS_ACTIONS),
                                resources=[data.rejects.table_arn]),
            iam.PolicyStatement(sid="AggregatesRead", actions=list(AGGREGATES_READ_ACTIONS),
                                resources=[data.aggregates.table_arn]),
            iam.PolicyStatement(sid="WatermarksPublish", actions=list(WATERMARKS_PUBLISH_ACTIONS),
                                resources=[data.watermarks.table_arn]),
            # PutMetricData has no resource-level permissions: "*" restricted by namespace.
            iam.PolicyStatement(sid="KclMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
                                conditions={"StringEquals": {"cloudwatch:namespace": app}}),
        ]
        if cfg.fan_out:
            statements += [
                iam.PolicyStatement(sid="FanOutRegister", actions=list(FAN_OUT_STREAM_ACTIONS),
                                    resources=[data.stream.stream_arn]),
                iam.PolicyStatement(sid="FanOutSubscribe", actions=list(FAN_OUT_CONSUMER_ACTIONS),
                                    resources=[self.consumer_arn_pattern(cfg, data)]),
            ]
        if data.stream_key is not None:
            statements.append(iam.PolicyStatement(sid="StreamKeyDecrypt", actions=["kms:Decrypt"],
                                                  resources=[data.stream_key.key_arn]))
        tables_key = data.tables_key_statement()
        if tables_key is not None:
            statements.append(tables_key)
        for statement in statements:
            self.task_role.add_to_principal_policy(statement)

    # -- task -----------------------------------------------------------------------------
    def _task(self, cfg: InfraConfig, docker_context: Path) -> ecs.FargateTaskDefinition:
        task = fargate_task(self, "Task", cfg, cpu=cfg.cpu, memory_mib=cfg.memory_mib,
                            task_role=self.task_role)
        self.image = asset_image(cfg, docker_context)  # the finalizer runs it too
        self.container = app_container(
            task, "worker", image=self.image, environment=cfg.worker_environment_vars(),
            log_group=self.log_group, stream_prefix="worker",
            # the image's HEALTHCHECK, the same figures (tests/container/test_task_definition.py
            # runs this container definition on Docker)
            health_check=ecs.HealthCheck(
                command=list(HEALTH_COMMAND),
                interval=Duration.seconds(10),
                timeout=Duration.seconds(10),
                retries=3,
                # failures before this do not count: KCL's first start on AWS creates tables
                start_period=Duration.seconds(120)),
            # > shutdownGraceMillis (checked at synth): SIGTERM, final checkpoints, then exit.
            # The image's own init (tini, its ENTRYPOINT) forwards SIGTERM to the JVM and
            # reaps the record-processor children, so no ECS init process is added.
            stop_timeout=Duration.seconds(cfg.stop_timeout_seconds),
        )
        return task

    # -- scaling --------------------------------------------------------------------------
    def _scaling(self, cfg: InfraConfig, data: DataPlane) -> ecs.ScalableTaskCount:
        scaling = self.service.auto_scale_task_count(min_capacity=cfg.baseline_workers,
                                                     max_capacity=cfg.max_capacity)
        scaling.scale_on_cpu_utilization(
            "CpuTarget", target_utilization_percent=cfg.cpu_target_percent,
            scale_out_cooldown=Duration.seconds(cfg.scale_out_cooldown_seconds),
            scale_in_cooldown=Duration.seconds(cfg.scale_in_cooldown_seconds))
        lag = data.stream.metric_get_records_iterator_age_milliseconds(
            statistic="Maximum", period=Duration.minutes(1))
        out_ms, in_ms = cfg.scale_out_lag_seconds * 1000, cfg.scale_in_lag_seconds * 1000
        # Two policies, so that adding workers is quick and removing them is slow.
        scaling.scale_on_metric(
            "LagScaleOut", metric=lag,
            scaling_steps=[appscaling.ScalingInterval(upper=out_ms, change=0),
                           appscaling.ScalingInterval(lower=out_ms, change=1),
                           appscaling.ScalingInterval(lower=out_ms * 5, change=2)],
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.seconds(cfg.scale_out_cooldown_seconds),
            evaluation_periods=3, datapoints_to_alarm=3)
        scaling.scale_on_metric(
            "LagScaleIn", metric=lag,
            scaling_steps=[appscaling.ScalingInterval(upper=in_ms, change=-1),
                           appscaling.ScalingInterval(lower=in_ms, change=0)],
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.seconds(cfg.scale_in_cooldown_seconds),
            evaluation_periods=15, datapoints_to_alarm=15)
        return scaling
