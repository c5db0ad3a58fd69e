"""Start a worker whose record processor is chosen by the benchmark (ours or checkpoint-only)."""

from __future__ import annotations

import os
import sys

from consumer_app import worker

if __name__ == "__main__":
    if os.environ.get("BENCH_PROCESSOR") == "checkpoint_only":
        worker.processor_command = lambda: f"{sys.executable} -m tests.bench.checkpoint_only"
    cmd = worker.prepare()
    os.execv(cmd[0], cmd)
