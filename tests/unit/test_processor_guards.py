"""The processor never lets amazon_kclpy skip a batch, and rejects never carry invalid text."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from consumer_app import processor as proc
from consumer_app.dynamo.rejects import _safe_text
from consumer_app.settings import Settings
from tests.support.kcl import Input, NoCheckpoint, data_record


def test_unexpected_error_ends_the_child_without_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    p = proc.TripRecordProcessor(Settings(region="us-east-1"))

    def boom(*_: Any) -> None:
        raise KeyError("surprise")

    exits: list[int] = []
    monkeypatch.setattr(p, "_process", boom)
    monkeypatch.setattr(proc.os, "_exit", lambda code: exits.append(code))
    p.process_records(Input(records=[data_record(1, b"{}")], checkpointer=NoCheckpoint()))
    assert exits == [proc.EXIT_UNEXPECTED]


def test_validator_crash_becomes_a_reject(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: bytes) -> Any:
        raise RuntimeError("validator bug")

    monkeypatch.setattr(proc, "validate", broken)
    clean, rejects, last = proc.split_batch([data_record(5, b"x")])
    assert clean == [] and [r.reason for r in rejects] == ["bad_value"]
    assert "validator bug" in rejects[0].detail and last is not None and last.sequence == 5


def test_lone_surrogates_are_escaped_for_dynamodb() -> None:
    assert _safe_text("key \ud800 end") == "key \\ud800 end"
    assert _safe_text("plain é") == "plain é"
    assert base64.b64encode(_safe_text("\udfff").encode()) == base64.b64encode(b"\\udfff")
