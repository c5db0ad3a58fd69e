"""The lease bootstrap and the emulator's index updates, against the real servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from consumer_app.dynamo import lease_table
from devkit.local import stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.Stack]:
    st = stack.private_stack(tmp_path_factory.mktemp("lease-table"), shards=4)
    try:
        st.start()
        yield st
    finally:
        st.stop()


def _items(ddb: Any, table: str) -> dict[str, dict[str, Any]]:
    return {it["leaseKey"]["S"]: it for it in ddb.scan(TableName=table, ConsistentRead=True)["Items"]}


def test_creating_an_index_twice_is_a_validation_error_not_a_server_fault(backend: stack.Stack) -> None:
    """DynamoDB refuses the second create with a 400; moto alone answered HTTP 500 (HTML)."""
    ddb = backend.client("dynamodb")
    table = f"gsi-twice-{time.time_ns()}"
    kwargs = lease_table.create_table_kwargs(table)
    index = kwargs.pop("GlobalSecondaryIndexes")[0]
    attributes = kwargs.pop("AttributeDefinitions")
    ddb.create_table(**kwargs, AttributeDefinitions=[a for a in attributes
                                                     if a["AttributeName"] == "leaseKey"])
    # the request KCL sends (DynamoDBLeaseRefresher.createLeaseOwnerToLeaseKeyIndexIfNotExists)
    update = {"TableName": table, "AttributeDefinitions": attributes,
              "GlobalSecondaryIndexUpdates": [{"Create": index}]}
    ddb.update_table(**update)
    with pytest.raises(ClientError) as err:
        ddb.update_table(**update)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "already exists" in err.value.response["Error"]["Message"]
    # and the table is unharmed: one index, still there
    desc = ddb.describe_table(TableName=table)["Table"]
    assert [i["IndexName"] for i in desc["GlobalSecondaryIndexes"]] == [lease_table.INDEX]


def test_bootstrap_writes_kcl_rows_once_even_when_four_workers_race(backend: stack.Stack) -> None:
    ddb, kinesis = backend.client("dynamodb"), backend.client("kinesis")
    table = f"boot-{time.time_ns()}"

    def one(n: int) -> lease_table.Bootstrap:
        return lease_table.bootstrap(ddb, kinesis, table, backend.stream, "TRIM_HORIZON", f"w{n}")

    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(one, range(4)))
    assert sum(d.created_table for d in done) == 1
    assert sum(d.wrote_migration_state for d in done) == 1
    assert sum(d.leases_written for d in done) == 4  # one per shard, whoever wrote it

    items = _items(ddb, table)
    shards = sorted(s["ShardId"] for s in kinesis.list_shards(StreamName=backend.stream)["Shards"])
    assert sorted(k for k in items if k.startswith("shardId-")) == shards
    lease = items[shards[0]]
    assert lease["checkpoint"] == {"S": "TRIM_HORIZON"} and lease["leaseCounter"] == {"N": "0"}
    assert "leaseOwner" not in lease and lease["entityType"] == {"S": "LEASE"}
    assert items[lease_table.MIGRATION_KEY]["cv"] == {"S": "CLIENT_VERSION_3X"}
    desc = ddb.describe_table(TableName=table)["Table"]
    assert [(i["IndexName"], i["IndexStatus"]) for i in desc["GlobalSecondaryIndexes"]] == [
        (lease_table.INDEX, "ACTIVE")]

    again = one(9)  # a restart: nothing is written over what exists
    assert (again.created_table, again.wrote_migration_state, again.leases_written) == (False, False, 0)
    assert _items(ddb, table) == items


def test_bootstrap_never_overwrites_a_row_kcl_wrote(backend: stack.Stack) -> None:
    ddb, kinesis = backend.client("dynamodb"), backend.client("kinesis")
    table = f"boot-kept-{time.time_ns()}"
    lease_table.ensure_table(ddb, table)
    owned = lease_table.lease_item("shardId-000000000000", "0", "1", "49000")
    owned["leaseOwner"] = {"S": "someone"}
    ddb.put_item(TableName=table, Item=owned)
    done = lease_table.bootstrap(ddb, kinesis, table, backend.stream, "LATEST", "w1")
    assert done.leases_written == 0  # the table already has a lease: KCL's state wins
    assert _items(ddb, table)["shardId-000000000000"] == owned


def test_no_leases_for_a_stream_with_closed_shards(backend: stack.Stack, tmp_path: Path) -> None:
    """Parents before children: a resharded stream's leases are KCL's shard sync's job."""
    kinesis, ddb = backend.client("kinesis"), backend.client("dynamodb")
    stream = f"resharded-{time.time_ns()}"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    kinesis.update_shard_count(StreamName=stream, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    deadline = time.monotonic() + 30
    while len(kinesis.list_shards(StreamName=stream)["Shards"]) < 6:
        assert time.monotonic() < deadline, "resharding did not finish"
        time.sleep(0.2)
    table = f"boot-resharded-{time.time_ns()}"
    done = lease_table.bootstrap(ddb, kinesis, table, stream, "TRIM_HORIZON", "w1")
    assert done.leases_written == 0 and "closed shards" in done.describe()
    assert done.wrote_migration_state  # the race on the migration state is avoided all the same
    assert not any(k.startswith("shardId-") for k in _items(ddb, table))
