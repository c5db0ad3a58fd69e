"""Each role's DynamoDB and Kinesis actions on the stack's own tables and stream are exactly the
calls the code makes on them: an action that nothing calls fails here, and so does a call
without its grant.  KCL's own actions (the lease table, the stream's reads) come from KCL's
Java code and are documented in kinesis_aggs_infra/service.py instead; the worker's own
calls on them (the lease bootstrap) must be among them."""

from __future__ import annotations

import inspect
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from consumer_app import finality
from consumer_app.dynamo import aggregates, lease_table, rejects, schema, watermarks
from tests.infra.conftest import COMBINATIONS
from tests.support.cfn import Synth, flat, logical_id

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
Store, Finalizer = watermarks.WatermarkStore, finality.Finalizer
#: the code each role runs on each of the stack's resources (``schema.check_table``: the
#: start-up check of a table's key schema); test_the_code_map_is_complete keeps it honest
WORKER_CODE: dict[str, tuple[Any, ...]] = {
    "aggregates": (aggregates.AggregateWriter, schema.check_table),
    "rejects": (rejects.RejectWriter, schema.check_table),
    "watermarks": (Store.read, Store.publish, schema.check_table),
}
FINALIZER_CODE: dict[str, tuple[Any, ...]] = {
    "aggregates": (Finalizer._finalize_vendor, Finalizer._finalize_item, schema.check_table),
    "watermarks": (Store.scan, Store.record_finality, schema.check_table),
    "stream": (finality.list_shard_ids,),
}


def calls(service: str, *code: Any) -> set[str]:
    """The IAM actions (``service:Operation``) of the botocore calls in ``code``:
    ``client.operation(...)`` and ``client.get_paginator("operation")``."""
    source = "\n".join(inspect.getsource(c) for c in code)
    names = {*re.findall(r"\.([a-z_]+)\(", source), *re.findall(r'get_paginator\("([a-z_]+)"\)', source)}
    model = botocore.session.get_session().get_service_model(service)
    return {f"{service}:{op}" for op in model.operation_names if xform_name(op) in names}


def granted(s: Synth, policy_prefix: str) -> dict[str, set[str]]:
    """Resource (as :func:`flat` spells it) -> every action the role's policy allows on it."""
    (policy,) = [v for k, v in s.of_type("AWS::IAM::Policy").items() if k.startswith(policy_prefix)]
    out: dict[str, set[str]] = defaultdict(set)
    for st in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        for resource in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
            out[flat(resource)] |= set(actions)
    return out


def arns(s: Synth) -> dict[str, str]:
    data = s.stack.data
    return {name: f"${{{logical_id(s, construct)}.Arn}}" for name, construct in (
        ("aggregates", data.aggregates), ("rejects", data.rejects), ("watermarks", data.watermarks),
        ("stream", data.stream))}


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_worker_table_actions_are_the_calls_of_the_worker(synths: dict[str, Synth], name: str) -> None:
    s = synths[name]
    got, arn = granted(s, "WorkersTaskRoleDefaultPolicy"), arns(s)
    for table, code in WORKER_CODE.items():
        assert got[arn[table]] == calls("dynamodb", *code), table


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_finalizer_actions_are_the_calls_of_a_pass(synths: dict[str, Synth], name: str) -> None:
    s = synths[name]
    got, arn = granted(s, "FinalizerTaskRoleDefaultPolicy"), arns(s)
    assert arn["rejects"] not in got  # the finalizer never touches the rejects table
    for resource, code in FINALIZER_CODE.items():
        service = "kinesis" if resource == "stream" else "dynamodb"
        assert got[arn[resource]] == calls(service, *code), resource


def test_the_workers_own_lease_calls_are_granted(synths: dict[str, Synth]) -> None:
    """The lease bootstrap (consumer_app/dynamo/lease_table.py) needs nothing beyond KCL's grants."""
    s = synths["default"]
    got = granted(s, "WorkersTaskRoleDefaultPolicy")
    lease = next(r for r in got if r.endswith(":table/kinesis-aggs-consumer"))
    assert calls("dynamodb", lease_table) <= got[lease]
    assert calls("kinesis", lease_table) <= got[arns(s)["stream"]]


def test_the_code_map_is_complete() -> None:
    """The watermark store's methods above are the ones each process calls, and the maps name
    real calls (a regex that matched nothing would make the tests above vacuous)."""
    processor = (ROOT / "consumer_app" / "processor.py").read_text()
    assert set(re.findall(r"self\.watermarks\.([a-z_]+)\(", processor)) == {"read", "publish"}
    fin = inspect.getsource(finality)
    assert set(re.findall(r"store\.([a-z_]+)\(", fin)) == {"scan", "record_finality"}
    assert calls("dynamodb", rejects.RejectWriter) == {"dynamodb:BatchWriteItem"}
    assert calls("kinesis", finality.list_shard_ids) == {"kinesis:ListShards"}
