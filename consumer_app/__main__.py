"""Command line of the product: ``python -m consumer_app run | health | finalize | windows``.

What runs in production and nothing else; the local stack, the demo and the chaos suite
are development tools in the ``devkit`` package (``python -m devkit --help``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping

#: subcommands that parse their own arguments (their --help is their own): name -> module
#: whose ``main(argv)`` runs it
OWN_PARSERS = {"finalize": "consumer_app.finality", "windows": "consumer_app.window_report"}


def delegate(argv: list[str], commands: Mapping[str, str]) -> int | None:
    """Run ``argv``'s subcommand if it is one of ``commands``; None if it is not."""
    if argv[:1] and argv[0] in commands:
        return int(importlib.import_module(commands[argv[0]]).main(argv[1:]))
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m consumer_app")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start one worker (the KCL MultiLangDaemon) with settings "
                   "from the environment (docs/configuration.md)")
    sub.add_parser("health", help="container health check: exit 0 if the daemon runs and "
                   "every leased shard made progress within HEALTH_MAX_AGE_SECONDS")
    sub.add_parser("finalize", add_help=False, help="mark aggregates final once every shard's "
                   "watermark has passed their window (python -m consumer_app finalize --help)")
    sub.add_parser("windows", add_help=False, help="list the aggregates with their state and the "
                   "global watermark (python -m consumer_app windows --help)")
    argv = sys.argv[1:] if argv is None else argv
    delegated = delegate(argv, OWN_PARSERS)
    if delegated is not None:
        return delegated
    args = p.parse_args(argv)

    if args.command == "run":
        from consumer_app.worker import run

        run()
        return 0  # not reached: run() execs the JVM
    from consumer_app import health

    return health.main()


if __name__ == "__main__":
    sys.exit(main())
