"""Builds the app from a context dict: used by app.py and by the tests, so both synth alike."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from kinesis_aggs_infra.config import ConfigError, InfraConfig, from_context
from kinesis_aggs_infra.service import default_docker_context
from kinesis_aggs_infra.stack import ConsumerStack

INFRA_DIR = Path(__file__).resolve().parents[1]


def default_env() -> cdk.Environment | None:
    """Account and region as the CDK CLI resolves them; none: an environment-agnostic stack."""
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    return cdk.Environment(account=account, region=region) if account or region else None


def build_app(context: Mapping[str, Any], *, docker_context: Path | None = None,
              outdir: str | Path | None = None,
              env: cdk.Environment | None = None) -> tuple[cdk.App, ConsumerStack, InfraConfig]:
    """Validate the context, create the stack, register cdk-nag (synth fails on a finding)."""
    cfg = from_context(context)
    env = env if env is not None else default_env()
    if cfg.vpc_id and (env is None or not env.account or not env.region):
        raise ConfigError(f"vpcId={cfg.vpc_id}: looking up an existing VPC needs the account and region; "
                          "run `cdk synth|deploy` with AWS credentials (the CLI sets CDK_DEFAULT_ACCOUNT "
                          "and CDK_DEFAULT_REGION), or export those two variables")
    outdir = outdir or os.environ.get("CDK_OUTDIR") or INFRA_DIR / "cdk.out"
    app = cdk.App(context=dict(context), outdir=str(outdir))
    stack = ConsumerStack(app, cfg.stack_name, cfg, docker_context or default_docker_context(),
                          env=env)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack, cfg
