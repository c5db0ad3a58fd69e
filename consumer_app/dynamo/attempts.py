"""The attempt loop shared by both writers: run, assess, back off, retry the failed part.

Each attempt runs every pending write (concurrently), then the pure rules decide:
all succeeded -> done; all or some failed -> wait (full jitter) and retry only the
failed writes; fatal or budget spent -> :class:`WriteFailed`.  What the writes came to
over every attempt (:class:`WriteTotals`) is returned to the caller, which owns its
meaning: no writer keeps a side list for a second call.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from consumer_app.counters import ShardCounters
from consumer_app.dynamo.errors import WriteFailed, error_code, kind_of
from consumer_app.logs import event
from consumer_app.rules.retry import ErrorKind, Outcome, RetryPolicy, assess, decide

U = TypeVar("U")
log = logging.getLogger("consumer_app.writes")


@dataclass
class UnitResult(Generic[U]):
    """Result of one write unit: how many writes succeeded, and what is left to retry."""

    succeeded: int = 0
    skipped: int = 0  # records already applied, found under a fence mark (a replay)
    failed: list[tuple[U, ErrorKind, int]] = field(default_factory=list)  # (rest, kind, writes)
    last_error: str = ""
    refused: list[U] = field(default_factory=list)  # parts not written, by rule (window final)
    lost_races: int = 0  # writes made moot by a newer value another writer already wrote

    @classmethod
    def failure(cls, unit: U, exc: BaseException, writes: int = 1, skipped: int = 0) -> UnitResult[U]:
        """``unit`` failed with ``exc`` (classified; re-raised if it is no AWS error)."""
        return cls(failed=[(unit, kind_of(exc), writes)], last_error=error_code(exc), skipped=skipped)


@dataclass(frozen=True, slots=True)
class WriteTotals(Generic[U]):
    """What one :meth:`AttemptRunner.run` made of its units, over every attempt (failed
    writes are not here: they were retried until durable, or the run raised)."""

    succeeded: int = 0
    skipped: int = 0
    refused: tuple[U, ...] = ()


@dataclass
class AttemptRunner:
    policy: RetryPolicy
    counters: ShardCounters
    pool: ThreadPoolExecutor
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic
    on_attempt: Callable[[], None] = lambda: None  # e.g. the health heartbeat

    def run(self, what: str, units: Sequence[U], write: Callable[[U], UnitResult[U]],
            success_counter: str) -> WriteTotals[U]:
        """Make every unit durable or raise :class:`WriteFailed`; what they came to.

        ``write`` runs in pool threads; only this thread touches the counters and totals.
        """
        start = self.clock()
        pending = list(units)
        attempt = 0
        succeeded = skipped = 0
        refused: list[U] = []
        while pending:
            attempt += 1
            self.on_attempt()
            if attempt > 1:
                self.counters.retries += 1
            results: list[ErrorKind | None] = []
            retry: list[U] = []
            last_error = ""
            outcomes = self.pool.map(write, pending) if len(pending) > 1 else map(write, pending)
            for res in outcomes:
                results += [None] * res.succeeded
                succeeded += res.succeeded
                skipped += res.skipped
                refused += res.refused
                self.counters.skipped_replays += res.skipped
                self.counters.watermark_races_lost += res.lost_races
                setattr(self.counters, success_counter,
                        getattr(self.counters, success_counter) + res.succeeded)
                for rest, kind, writes in res.failed:
                    results += [kind] * writes
                    retry.append(rest)
                last_error = res.last_error or last_error
            self.counters.throttled_writes += sum(r is ErrorKind.THROTTLED for r in results)
            outcome = assess(results)
            if outcome is Outcome.ALL_SUCCEEDED:
                break
            if outcome is Outcome.ALL_FAILED:
                self.counters.all_failed += 1
            elif outcome is Outcome.SOME_FAILED:
                self.counters.some_failed += 1
            decision = decide(self.policy, outcome, attempt, self.clock() - start, self.jitter())
            failed = sum(r is not None for r in results)
            if not decision.retry:
                raise WriteFailed(f"{what}: {decision.why} ({failed} of {len(results)} writes "
                                  f"failed in attempt {attempt}; last error: {last_error})")
            event(log, logging.WARNING, f"{what}: {outcome.value}, retrying the failed writes",
                  outcome=outcome.value, failed=failed, writes=len(results), attempt=attempt,
                  delay_ms=round(decision.delay_s * 1000), error=last_error)
            self.sleep(decision.delay_s)
            pending = retry
        return WriteTotals(succeeded, skipped, tuple(refused))
