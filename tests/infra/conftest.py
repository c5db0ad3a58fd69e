"""Shared synths of the CDK app: each combination is synthesized once per test session.

A synth takes a few seconds (jsii, cdk-nag, template validation), so tests read the
templates of a small set of named combinations instead of synthesizing per test.  The
image asset comes from a fixture build context (a Dockerfile plus bulky files that the
excludes must keep out of cdk.out), not from the repository root.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Before aws_cdk is imported anywhere in this process: silence jsii's Node 20 banner.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from kinesis_aggs_infra.build import build_app  # noqa: E402

from tests.support.cfn import Synth  # noqa: E402

ACCOUNT, REGION = "123456789012", "eu-west-1"
EXISTING_VPC = "vpc-0a1b2c3d4e5f67890"
PRIVATE_SUBNETS = ("subnet-0aaa1111bbbb22223", "subnet-0ccc3333dddd44445")
PUBLIC_SUBNETS = ("subnet-0eee5555ffff66667", "subnet-0abc7777def888889")
ALARM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:kinesis-aggs-alarms"


def vpc_lookup_context() -> dict[str, Any]:
    """What `cdk deploy` would cache in cdk.context.json after looking the VPC up."""
    def subnets(ids: tuple[str, ...], third_octet: int) -> list[dict[str, str]]:
        return [{"subnetId": sid, "cidr": f"10.1.{third_octet + i}.0/24",
                 "availabilityZone": f"{REGION}{'ab'[i]}", "routeTableId": f"rtb-0{i}23456789abcdef0"}
                for i, sid in enumerate(ids)]

    key = (f"vpc-provider:account={ACCOUNT}:filter.vpc-id={EXISTING_VPC}:region={REGION}:"
           "returnAsymmetricSubnets=true")
    return {key: {
        "vpcId": EXISTING_VPC, "vpcCidrBlock": "10.1.0.0/16", "ownerAccountId": ACCOUNT,
        "availabilityZones": [],
        "subnetGroups": [
            {"name": "Public", "type": "Public", "subnets": subnets(PUBLIC_SUBNETS, 0)},
            {"name": "Private", "type": "Private", "subnets": subnets(PRIVATE_SUBNETS, 10)},
        ],
    }}


#: name -> (context, environment): the combinations the issue names, plus the options.
COMBINATIONS: dict[str, tuple[dict[str, Any], cdk.Environment | None]] = {
    "default": ({}, None),
    "provisioned4": ({"streamMode": "PROVISIONED", "shardCount": 4}, None),
    "provisioned16": ({"streamMode": "PROVISIONED", "shardCount": 16, "shardsPerWorker": 4}, None),
    "existing_vpc": ({"vpcId": EXISTING_VPC, **vpc_lookup_context()},
                     cdk.Environment(account=ACCOUNT, region=REGION)),
    # the non-default options together: NAT + private subnets, customer-managed key,
    # tables (unprotected) and logs destroyed with the stack, alarm notifications, ARM, custom retention
    "options": ({"natGateways": 1, "streamEncryption": "KMS", "removalPolicy": "DESTROY",
                 "deletionProtection": False, "tableEncryption": "AWS_MANAGED",
                 "alarmTopicArn": ALARM_TOPIC, "cpuArchitecture": "ARM64", "logRetentionDays": 7,
                 "pointInTimeRecovery": False, "streamRetentionHours": 48, "minWorkers": 2,
                 "maxWorkers": 6, "stopTimeoutSeconds": 60, "shutdownGraceMillis": 50000,
                 "workerEnvironment": {"WRITE_CONCURRENCY": "8", "AGGREGATE_SUB_ITEMS": "4"},
                 "rejectsAlarmPercent": 12.5, "watermarksTableName": "trips-watermarks",
                 "watermarkMarginMillis": 2000, "finalizeIntervalSeconds": 2.5,
                 "finalityLagAlarmSeconds": 900}, None),
    # enhanced fan-out: the consumer's grants, and nothing else changes
    "fanout": ({"retrievalMode": "FANOUT"}, None),
    # the tables under a key of the stack: the key and its grants, and nothing else changes
    "table_cmk": ({"tableEncryption": "CUSTOMER_MANAGED"}, None),
}


def make_docker_context(root: Path) -> Path:
    """A build context like the repo's: a Dockerfile, the app, and bulk that must not be staged."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text('FROM python:3.11-slim\nCOPY . /app\nENTRYPOINT ["python", '
                                     '"-m", "consumer_app", "run"]\n')
    (root / "consumer_app").mkdir()
    (root / "consumer_app" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bulk = os.urandom(1024 * 1024)
    for junk in (".venv/lib/big.bin", "node_modules/pkg/big.bin", "build/jars/big.jar", ".git/objects/big",
                 "cdk.out/asset.x/big", "infra/cdk.out/big", "tests/data/big.bin", ".local/state/big",
                 ".hypothesis/examples/big"):
        path = root / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        for i in range(3):  # 3 MB each: any one of them staged breaks the size bound
            path.with_name(f"{path.name}{i}").write_bytes(bulk)
    (root / "consumer_app" / "__pycache__").mkdir()
    (root / "consumer_app" / "__pycache__" / "x.cpython-311.pyc").write_bytes(bulk)
    return root


@pytest.fixture(scope="session")
def docker_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_docker_context(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="session")
def synths(tmp_path_factory: pytest.TempPathFactory, docker_context: Path) -> dict[str, Synth]:
    """Lazily synthesized combinations, shared by every test module."""

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, name: str) -> Synth:
            context, env = COMBINATIONS[name]
            outdir = tmp_path_factory.mktemp(f"cdk-{name}")
            app, stack, cfg = build_app(context, docker_context=docker_context, outdir=outdir, env=env)
            app.synth()  # runs cdk-nag: raises on any unacknowledged finding
            self[name] = Synth(name, cfg, app, stack, Template.from_stack(stack), outdir)
            return self[name]

    return Lazy()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop jsii's Node process (started by importing aws_cdk, even when no infra test runs).

    The suite-wide guard (tests/conftest.py, which runs after this hook) fails the run on
    any child process still alive; the jsii runtime would otherwise live until exit.
    """
    runtime = sys.modules.get("jsii._runtime")
    if runtime is not None:
        runtime.kernel.provider._process.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "infra: CDK app tests (synth only; no AWS account needed)")
