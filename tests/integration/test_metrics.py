"""The processors' EMF lines from a real worker, checked against the specification and the truth.

One worker (the real MultiLangDaemon) on 2 shards, so that no lease moves and nothing is
delivered twice: then what the metrics count must equal what the producer sent.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from consumer_app.metrics import REJECTED, is_emf
from devkit.local import inspect, stack
from devkit.local.workers import Supervisor, Worker, worker_env
from producer.produce import Plan, produce
from producer.summary import Summary
from tests.emf_spec import problems

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_emf_lines_follow_the_spec_and_add_up_to_the_run(tmp_path: Path) -> None:
    with stack.running(tmp_path, shards=2) as st:
        summary = Summary()
        produce(Plan(st.stream, count=800, unclean_ratio=0.1, seed=21), summary, st.client("kinesis"))
        app = f"emf-{int(time.time())}"
        w = Worker("w1", worker_env(st.env(), app, STATS_INTERVAL_SECONDS="2"), tmp_path, restart=False)
        with Supervisor([w]) as sup:
            left = inspect.wait_drained(st.client("dynamodb"), app, summary.to_json(), timeout_s=180,
                                        check=sup.check)
            sup.stop_gracefully(60)
        assert left == {}
    raw = w.stderr_path.read_text().splitlines()
    docs = [d for d in w.events() if is_emf(d)]
    assert docs, "no EMF line"
    # each document is one whole line of its own (what CloudWatch Logs needs to extract it)
    assert sum('"_aws"' in line for line in raw) == len(docs)
    assert all(line.startswith("{") for line in raw if '"_aws"' in line)
    assert [p for d in docs for p in problems(d)] == []
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {app}

    def total(name: str) -> int:
        return sum(d.get(name, 0) for d in docs if not isinstance(d.get(name, 0), list))

    assert total("RecordsIn") == summary.sent == 800
    assert total("CleanRecords") == summary.clean
    rejected = Counter()
    for d in docs:
        if REJECTED in d:
            rejected[d["Reason"]] += d[REJECTED]
    assert rejected == Counter(summary.unclean)
    assert total("ReplaysSkippedByFence") == 0  # one worker, no lease moved: nothing replayed
    assert total("AggregateWrites") > 0 and total("Checkpoints") >= 2 and total("Flushes") >= 2
    assert all(d["Stream"] == st.stream and "ShardId" not in d for d in docs)
    assert any("BatchProcessingTime" in d for d in docs) and any("MillisBehindLatest" in d for d in docs)
