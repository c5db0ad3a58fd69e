"""A persistent kinesis-local, restarted the way the chaos scenario and `local down` do it.

kinesis-local writes its snapshot only after its clients' connections have drained (up to
30 s) or every 5 s; stopped too early it loses acknowledged records and reuses their
sequence numbers.  This guards the stop timeout that prevents it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.local import stack

pytestmark = pytest.mark.integration


def _read_all(kinesis: object, stream: str) -> list[str]:
    seqs: list[str] = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:  # type: ignore[attr-defined]
        it = kinesis.get_shard_iterator(  # type: ignore[attr-defined]
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            resp = kinesis.get_records(ShardIterator=it, Limit=10000)  # type: ignore[attr-defined]
            seqs += [r["SequenceNumber"] for r in resp["Records"]]
            if not resp["Records"]:
                break
            it = resp.get("NextShardIterator")
    return seqs


def test_restart_with_persistence_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    st = stack.private_stack(tmp_path, shards=2)
    st.start(persist=True)
    kinesis = st.client("kinesis")  # stays connected across the restart, as workers are
    try:
        acked = [kinesis.put_record(StreamName=st.stream, Data=b"%d" % i, PartitionKey=str(i))
                 for i in range(150)]
        old_pid = st.kinesis_pid
        st.restart_kinesis(tmp_path / "restarted.log")
        assert st.kinesis_pid != old_pid
        assert sorted(_read_all(kinesis, st.stream)) == sorted(a["SequenceNumber"] for a in acked)
        # and it goes on from where it was: no sequence number is handed out twice
        after = kinesis.put_record(StreamName=st.stream, Data=b"x", PartitionKey="0")
        last = max(int(a["SequenceNumber"]) for a in acked if a["ShardId"] == after["ShardId"])
        assert int(after["SequenceNumber"]) > last
    finally:
        kinesis.close()  # lets the final stop skip the connection drain
        st.stop()
