"""Development tools: ``python -m devkit local up|down|status|init|check | demo | chaos``."""

from __future__ import annotations

import argparse
import sys

from consumer_app.__main__ import delegate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devkit")
    sub = p.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="the local emulators (kinesis-local + moto)")
    lsub = local.add_subparsers(dest="action", required=True)
    up = lsub.add_parser("up", help="start them, create the stream and tables, print exports")
    up.add_argument("--shards", type=int, default=4)
    up.add_argument("--kinesis-port", type=int, default=4567)
    up.add_argument("--dynamodb-port", type=int, default=4568)
    up.add_argument("--persist", action="store_true", help="kinesis-local keeps its data on disk")
    lsub.add_parser("down", help="stop the processes `local up` started")
    init = lsub.add_parser("init", help="create the stream and tables on the endpoints of the "
                           "environment (used by compose.yaml); waits for them to answer")
    init.add_argument("--shards", type=int, default=4)
    init.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the backend")
    lsub.add_parser("status", help="what runs where")
    chk = lsub.add_parser("check", help="reconcile a producer summary (JSON) against the tables "
                          "of the environment's backend, once every shard is checkpointed")
    chk.add_argument("--summary", action="append", help="a file with `python -m producer`'s "
                     "output (repeat for several runs; default and '-': stdin)")
    chk.add_argument("--wait", type=float, default=120.0,
                     help="seconds to wait for the checkpoints to reach the last records")

    demo = sub.add_parser("demo", help="produce, consume with two workers, show, reconcile")
    demo.add_argument("--duration", type=float, default=90.0, help="seconds of producing")
    demo.add_argument("--rate", type=float, default=200.0, help="records per second")
    demo.add_argument("--unclean-ratio", type=float, default=0.05)
    demo.add_argument("--workers", type=int, default=2)
    demo.add_argument("--shards", type=int, default=4)
    demo.add_argument("--seed", type=int, default=None)
    sub.add_parser("chaos", add_help=False, help="fault scenarios with real workers "
                   "(python -m devkit chaos --help)")
    argv = sys.argv[1:] if argv is None else argv
    delegated = delegate(argv, {"chaos": "devkit.chaos.runner"})
    if delegated is not None:
        return delegated
    args = p.parse_args(argv)
    if args.command == "local":
        from devkit.local import cli

        return cli.main(args)
    from devkit import demo

    return demo.main(args)


if __name__ == "__main__":
    sys.exit(main())
