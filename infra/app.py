#!/usr/bin/env python3
"""CDK app entry point: ``cdk synth|deploy|destroy`` from infra/, or ``python app.py`` alone.

Without the CLI, ``python app.py [-c key=value ...]`` writes the CloudFormation templates to
infra/cdk.out (no AWS credentials needed).  Settings: docs/deploy-aws.md "Settings".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# jsii prints an end-of-life banner on every run under Node 20 (docs/design.md#the-cdk-app); set before
# aws_cdk is imported (through kinesis_aggs_infra.build below).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

INFRA_DIR = Path(__file__).resolve().parent
# consumer_app (the worker's table contract and settings rules) lives at the repo root.
for path in (INFRA_DIR, INFRA_DIR.parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from kinesis_aggs_infra.config import ConfigError, load_context, parse_override  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, as `cdk -c` does (value parsed as JSON if it can be)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        overrides = dict(parse_override(item) for item in args.context)
        context = load_context(INFRA_DIR, overrides=overrides)
        from kinesis_aggs_infra.build import build_app

        app, stack, _ = build_app(context)
    except ConfigError as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 2
    assembly = app.synth()
    if "CDK_OUTDIR" not in os.environ:  # run without the CLI: say where the templates went
        print(f"synthesized {stack.stack_name} to {assembly.directory} "
              f"in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
