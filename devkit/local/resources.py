"""Create the stream and the tables on a backend (idempotent), and wait until they are usable."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from consumer_app.tables import AGGREGATES, REJECTS, WATERMARKS, TableSpec


def ensure_stream(kinesis: Any, name: str, shards: int, timeout_s: float = 60) -> None:
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shards)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if status["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.2)
    raise TimeoutError(f"stream {name} not ACTIVE after {timeout_s}s")


def ensure_table(dynamodb: Any, name: str, spec: TableSpec) -> None:
    try:
        dynamodb.create_table(**spec.create_table_kwargs(name))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2,
                                                                           "MaxAttempts": 150})
    if spec.ttl_attribute:
        try:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": spec.ttl_attribute})
        except ClientError as exc:  # already enabled
            if exc.response["Error"]["Code"] != "ValidationException":
                raise


def ensure_all(kinesis: Any, dynamodb: Any, stream: str, shards: int, aggregates: str,
               rejects: str, watermarks: str) -> None:
    ensure_stream(kinesis, stream, shards)
    ensure_table(dynamodb, aggregates, AGGREGATES)
    ensure_table(dynamodb, rejects, REJECTS)
    ensure_table(dynamodb, watermarks, WATERMARKS)
