"""A trivial record processor for the benchmark: it only checkpoints (the daemon's ceiling)."""

from __future__ import annotations

import logging
import signal

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor

from consumer_app import logs


class CheckpointOnly(processor.RecordProcessorBase):
    def initialize(self, initialize_input: object) -> None:
        # the same start event as the real processor, so both drains are timed alike
        logs.configure("INFO")
        logs.event(logging.getLogger("bench"), logging.INFO, "lease taken", event="initialize",
                   shard=initialize_input.shard_id)  # type: ignore[attr-defined]

    def process_records(self, process_records_input: object) -> None:
        records = process_records_input.records  # type: ignore[attr-defined]
        if records:
            last = records[-1]
            process_records_input.checkpointer.checkpoint(  # type: ignore[attr-defined]
                last.sequence_number, last.sub_sequence_number)

    def lease_lost(self, lease_lost_input: object) -> None:
        return None

    def shard_ended(self, shard_ended_input: object) -> None:
        shard_ended_input.checkpointer.checkpoint()  # type: ignore[attr-defined]

    def shutdown_requested(self, shutdown_requested_input: object) -> None:
        return None


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    kcl.KCLProcess(CheckpointOnly()).run()
