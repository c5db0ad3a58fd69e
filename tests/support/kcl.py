"""Fakes of what amazon_kclpy hands a record processor: records, the inputs of
process_records / shutdown_requested / shard_ended, and their checkpointer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.trips import BASE_MS, trip_bytes


@dataclass
class Record:
    """An amazon_kclpy record: the attributes the processor reads."""

    sequence_number: str
    sub_sequence_number: int | None = 0
    binary_data: bytes = b""
    timestamp_millis: int = BASE_MS
    partition_key: str | None = "pk"


def trip_record(seq: int, vendor: int = 1) -> Record:
    """A clean trip of ``vendor`` (2 passengers) at sequence number ``seq``, arrived at BASE_MS."""
    return Record(str(seq), binary_data=trip_bytes(vendor, 2))


def data_record(seq: int, data: bytes) -> Record:
    """A record with any payload at sequence number ``seq``, arrived at BASE_MS."""
    return Record(str(seq), binary_data=data)


class Checkpointer:
    """Appends each checkpoint to ``log`` as ("checkpoint", sequence, sub-sequence)."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def checkpoint(self, seq: str | None = None, sub: int | None = None) -> None:
        self.log.append(("checkpoint", seq, sub))


class NoCheckpoint:
    """The checkpointer of a batch that must not be checkpointed."""

    def checkpoint(self, *args: Any) -> None:
        raise AssertionError("must not checkpoint a batch that failed")


class Input:
    """A process_records input (records and lag); shutdown_requested and shard_ended
    inputs use only its checkpointer, which logs to ``log`` unless one is given."""

    def __init__(self, log: list[Any] | None = None, records: list[Any] | None = None, behind: int = 0,
                 checkpointer: Any = None) -> None:
        self.records = records or []
        self.millis_behind_latest = behind
        self.checkpointer = checkpointer if checkpointer is not None else Checkpointer(
            log if log is not None else [])
