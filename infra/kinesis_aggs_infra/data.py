"""The data plane: the input stream and the tables the worker writes (docs/design.md#tables): aggregates,
rejects, and the shards' watermarks that the finalizer reads (docs/windows.md).

Key schemas and the TTL attribute come from ``consumer_app.tables``: the worker refuses to
start on a table whose keys differ, so the stack and the worker share one definition.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from consumer_app.tables import AGGREGATES, REJECTS, WATERMARKS, TableSpec
from kinesis_aggs_infra.config import InfraConfig

_ATTR_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER,
               "B": dynamodb.AttributeType.BINARY}
#: tableEncryption -> CDK's; AWS_OWNED is none: DynamoDB's default, no SSESpecification at all.
_TABLE_ENCRYPTION = {"AWS_MANAGED": dynamodb.TableEncryption.AWS_MANAGED,
                     "CUSTOMER_MANAGED": dynamodb.TableEncryption.CUSTOMER_MANAGED}
#: What a role that reads or writes items of a table under the stack's key needs on the key:
#: DynamoDB decrypts the table's own key as the caller (at the first access, then after five
#: idle minutes).  It makes that table key itself, under the grant it gets when CloudFormation
#: creates the table, so the roles need neither GenerateDataKey nor Encrypt.
TABLES_KEY_ACTIONS = ("kms:Decrypt",)


def data_removal_policy(cfg: InfraConfig) -> RemovalPolicy:
    """What ``cdk destroy`` does with data worth keeping: the tables and the logs."""
    return RemovalPolicy.DESTROY if cfg.removal_policy == "DESTROY" else RemovalPolicy.RETAIN


class DataPlane(Construct):
    """Stream, aggregates table (kinesisAggs), rejects table and watermarks table."""

    def __init__(self, scope: Construct, construct_id: str, cfg: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.stream_key: kms.Key | None = None
        if cfg.stream_encryption == "KMS":
            self.stream_key = kms.Key(
                self, "StreamKey", enable_key_rotation=True,
                description=f"Server-side encryption of the {cfg.stream_name} Kinesis stream",
                # the stream goes with the stack (below); a key kept without it is useless
                removal_policy=RemovalPolicy.DESTROY, pending_window=Duration.days(7))
        # MANAGED: the aws/kinesis key (no KMS charge); KMS: a customer-managed key of this stack
        encryption = kinesis.StreamEncryption.KMS if self.stream_key else kinesis.StreamEncryption.MANAGED
        self.stream = kinesis.Stream(
            self, "Stream",
            stream_name=cfg.stream_name,
            stream_mode=kinesis.StreamMode.PROVISIONED if cfg.provisioned else kinesis.StreamMode.ON_DEMAND,
            shard_count=cfg.shard_count if cfg.provisioned else None,
            retention_period=Duration.hours(cfg.stream_retention_hours),
            encryption=encryption,
            encryption_key=self.stream_key,
            # In-flight records only (the aggregates are the durable result); a retained
            # stream would keep billing and block the next deploy of the same name.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.tables_key: kms.Key | None = None
        if cfg.table_encryption == "CUSTOMER_MANAGED":
            self.tables_key = kms.Key(
                self, "TablesKey", enable_key_rotation=True,
                description=(f"Encryption at rest of the tables {cfg.aggregates_table_name}, "
                             f"{cfg.rejects_table_name} and {cfg.watermarks_table_name}"),
                # as long as the tables: a kept table whose key is gone cannot be read
                removal_policy=data_removal_policy(cfg), pending_window=Duration.days(7))
        self.aggregates = self._table("Aggregates", cfg.aggregates_table_name, AGGREGATES, cfg)
        self.rejects = self._table("Rejects", cfg.rejects_table_name, REJECTS, cfg)
        self.watermarks = self._table("Watermarks", cfg.watermarks_table_name, WATERMARKS, cfg)

    def _table(self, construct_id: str, name: str, spec: TableSpec, cfg: InfraConfig) -> dynamodb.Table:
        pk, sk = spec.partition_key, spec.sort_key
        return dynamodb.Table(
            self, construct_id,
            table_name=name,
            partition_key=dynamodb.Attribute(name=pk[0], type=_ATTR_TYPES[pk[1]]),
            # a partition key only (the watermarks: one item per shard) has no sort key
            sort_key=dynamodb.Attribute(name=sk[0], type=_ATTR_TYPES[sk[1]]) if sk else None,
            # Writes follow the stream's rate and bursts after a backlog; nothing to size.
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=cfg.point_in_time_recovery),
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=data_removal_policy(cfg),
            # on by default: no delete-table, by hand or by CloudFormation, removes the results;
            # removalPolicy=DESTROY requires it off (config.py)
            deletion_protection=cfg.deletion_protection,
            encryption=_TABLE_ENCRYPTION.get(cfg.table_encryption),
            encryption_key=self.tables_key,
        )

    def tables_key_statement(self) -> iam.PolicyStatement | None:
        """The statement that lets a role use the tables under the stack's key; None without one."""
        if self.tables_key is None:
            return None
        return iam.PolicyStatement(sid="TablesKeyDecrypt", actions=list(TABLES_KEY_ACTIONS),
                                   resources=[self.tables_key.key_arn])
