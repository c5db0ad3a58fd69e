"""Retry decisions for DynamoDB writes (docs/design.md#retries), as pure functions.

A write attempt covers several independent writes (one per aggregate item, or one per
rejects chunk).  Its outcome is all succeeded, some failed, all failed, or fatal.
Throttled and transient failures are retried with capped exponential backoff and full
jitter; only the failed writes are retried.  A fatal error, or a spent budget (attempts
or elapsed time), ends the attempt loop; the record processor then blocks its shard: it
tries the same payload again, without checkpointing, until it is durable
(:func:`blocked_delay`), while every other shard goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

#: Error codes DynamoDB uses when it sheds load.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
    }
)
#: Codes worth retrying that are not throttling.
TRANSIENT_CODES = frozenset(
    {"InternalServerError", "ServiceUnavailable", "InternalFailure", "TransactionInProgressException"}
)


class ErrorKind(Enum):
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    FATAL = "fatal"


def classify(code: str | None, http_status: int | None = None) -> ErrorKind:
    """Kind of a failed write, from its AWS error code and HTTP status.

    ``code=None`` with no status means the request never got an answer (connection
    refused, timeout): transient.  Unknown 4xx codes (validation, missing table, access
    denied) are fatal: retrying cannot fix them.
    """
    if code in THROTTLING_CODES:
        return ErrorKind.THROTTLED
    if code in TRANSIENT_CODES:
        return ErrorKind.TRANSIENT
    if code is None and http_status is None:
        return ErrorKind.TRANSIENT
    if http_status is not None and (http_status >= 500 or http_status in (408, 429)):
        return ErrorKind.TRANSIENT
    return ErrorKind.FATAL


class Outcome(Enum):
    ALL_SUCCEEDED = "all_succeeded"
    SOME_FAILED = "some_failed"
    ALL_FAILED = "all_failed"
    FATAL = "fatal"


def assess(results: Sequence[ErrorKind | None]) -> Outcome:
    """Outcome of one attempt from the result of each write (None = succeeded)."""
    if any(r is ErrorKind.FATAL for r in results):
        return Outcome.FATAL
    failed = sum(r is not None for r in results)
    if failed == 0:
        return Outcome.ALL_SUCCEEDED
    return Outcome.ALL_FAILED if failed == len(results) else Outcome.SOME_FAILED


#: The default retry budget and backoff, here once: :class:`RetryPolicy` and the worker's
#: ``RETRY_*`` settings (consumer_app/settings.py) both default to these.  Delays in
#: milliseconds, as the settings take them.
DEFAULT_MAX_ATTEMPTS = 50
DEFAULT_MAX_ELAPSED_S = 120.0
DEFAULT_BASE_DELAY_MILLIS = 50
DEFAULT_MAX_DELAY_MILLIS = 5000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry budget: whichever of attempts or elapsed seconds runs out first."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_elapsed_s: float = DEFAULT_MAX_ELAPSED_S
    base_delay_s: float = DEFAULT_BASE_DELAY_MILLIS / 1000
    max_delay_s: float = DEFAULT_MAX_DELAY_MILLIS / 1000

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.max_elapsed_s <= 0 or self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("need max_elapsed_s > 0 and 0 < base_delay_s <= max_delay_s")


@dataclass(frozen=True, slots=True)
class Decision:
    retry: bool
    delay_s: float
    why: str


def backoff_delay(policy: RetryPolicy, attempt: int, jitter: float) -> float:
    """Full-jitter backoff after attempt number ``attempt`` (1-based); ``jitter`` in [0, 1)."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * 2 ** min(attempt - 1, 62))
    return jitter * ceiling


def decide(
    policy: RetryPolicy, outcome: Outcome, attempt: int, elapsed_s: float, jitter: float
) -> Decision:
    """After attempt ``attempt`` ended with ``outcome``: retry (and how long to wait) or stop."""
    if outcome is Outcome.ALL_SUCCEEDED:
        return Decision(False, 0.0, "done")
    if outcome is Outcome.FATAL:
        return Decision(False, 0.0, "fatal error: retrying cannot help")
    if attempt >= policy.max_attempts:
        return Decision(False, 0.0, f"retry budget spent: {attempt} attempts")
    delay = backoff_delay(policy, attempt, jitter)
    if elapsed_s + delay > policy.max_elapsed_s:
        return Decision(False, 0.0, f"retry budget spent: {elapsed_s:.1f}s of {policy.max_elapsed_s:g}s")
    return Decision(True, delay, outcome.value)


#: A shard whose flush is still not durable after a whole retry budget keeps its lease and
#: checkpoint and tries the same payload again (docs/guarantees.md#a-shard-that-cannot-write):
#: first after this long, doubling up to :data:`BLOCKED_MAX_DELAY_S`.
BLOCKED_BASE_DELAY_S = 1.0
BLOCKED_MAX_DELAY_S = 30.0
#: Checkpoint failures that pass (KCL's names): the lease table throttled or briefly
#: unreachable.  Retried like a blocked write; any other failure is not transient.
CHECKPOINT_TRANSIENT = frozenset({"ThrottlingException", "KinesisClientLibDependencyException"})


def blocked_delay(attempt: int, jitter: float, base_s: float = BLOCKED_BASE_DELAY_S,
                  cap_s: float = BLOCKED_MAX_DELAY_S) -> float:
    """Wait after failed try ``attempt`` (1-based) of a blocked shard's payload: doubling from
    ``base_s`` up to ``cap_s``, then 50-100 % of that (``jitter`` in [0, 1)), so that shards
    blocked by the same cause do not all try again in step, and never busy-loop."""
    ceiling = min(cap_s, base_s * 2 ** min(attempt - 1, 62))
    return ceiling * (0.5 + jitter / 2)
