"""Retry decisions for DynamoDB writes (docs/design.md#retries)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer_app.rules.retry import (
    Decision,
    ErrorKind,
    Outcome,
    RetryPolicy,
    assess,
    backoff_delay,
    classify,
    decide,
)

T, X, F = ErrorKind.THROTTLED, ErrorKind.TRANSIENT, ErrorKind.FATAL


# -- classify ------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException",
                                  "RequestLimitExceeded", "Throttling", "ThrottledException",
                                  "TooManyRequestsException"])
@pytest.mark.parametrize("status", [400, None])
def test_throttling_codes(code, status):
    assert classify(code, status) is T


@pytest.mark.parametrize("code", ["InternalServerError", "ServiceUnavailable", "InternalFailure",
                                  "TransactionInProgressException"])
def test_transient_codes(code):
    assert classify(code, 500) is X
    assert classify(code, 400) is X
    assert classify(code) is X


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599, 408, 429])
def test_transient_statuses_with_unknown_code(status):
    assert classify("SomethingNew", status) is X
    assert classify(None, status) is X


def test_no_answer_at_all_is_transient():
    assert classify(None, None) is X
    assert classify(None) is X


@pytest.mark.parametrize("code", ["ValidationException", "ResourceNotFoundException", "AccessDeniedException",
                                  "UnrecognizedClientException", "SerializationException"])
def test_client_errors_are_fatal(code):
    assert classify(code, 400) is F


def test_other_4xx_and_unknown_are_fatal():
    assert classify(None, 400) is F
    assert classify(None, 403) is F
    assert classify("Whatever", None) is F
    assert classify("ConditionalCheckFailedException", 400) is F


# -- assess --------------------------------------------------------------------------

@pytest.mark.parametrize(("results", "outcome"), [
    ([None], Outcome.ALL_SUCCEEDED),
    ([None, None, None], Outcome.ALL_SUCCEEDED),
    ([], Outcome.ALL_SUCCEEDED),
    ([None, T, None], Outcome.SOME_FAILED),
    ([X, None], Outcome.SOME_FAILED),
    ([T], Outcome.ALL_FAILED),
    ([T, X, T], Outcome.ALL_FAILED),
    ([F], Outcome.FATAL),
    ([None, None, F], Outcome.FATAL),
    ([T, F, X], Outcome.FATAL),
])
def test_assess(results, outcome):
    assert assess(results) is outcome


# -- backoff_delay -------------------------------------------------------------------

DEFAULT = RetryPolicy()  # base 0.05 s, cap 5 s


def test_default_policy():
    assert (DEFAULT.max_attempts, DEFAULT.max_elapsed_s, DEFAULT.base_delay_s, DEFAULT.max_delay_s) == (
        50, 120.0, 0.05, 5.0)


@pytest.mark.parametrize("attempt", [1, 2, 7, 12, 200, 10_000])
def test_zero_jitter_is_zero_delay(attempt):
    assert backoff_delay(DEFAULT, attempt, 0.0) == 0.0


@pytest.mark.parametrize(("attempt", "ceiling"), [
    (1, 0.05), (2, 0.1), (3, 0.2), (4, 0.4), (5, 0.8), (6, 1.6), (7, 3.2),
    (8, 5.0),  # 6.4 capped
    (12, 5.0), (64, 5.0), (200, 5.0), (10_000, 5.0),
])
def test_full_jitter_ceiling(attempt, ceiling):
    assert backoff_delay(DEFAULT, attempt, 0.999) == pytest.approx(0.999 * ceiling)
    assert backoff_delay(DEFAULT, attempt, 0.5) == pytest.approx(0.5 * ceiling)


def test_large_attempt_numbers_do_not_overflow():
    policy = RetryPolicy(max_attempts=1000, base_delay_s=1.0, max_delay_s=30.0)
    delay = backoff_delay(policy, 200, 0.999)
    assert math.isfinite(delay) and delay == pytest.approx(29.97)
    assert backoff_delay(policy, 5000, 0.25) == pytest.approx(7.5)


@settings(max_examples=200, deadline=None)
@given(attempt=st.integers(1, 5000), jitter=st.floats(0.0, 1.0, exclude_max=True),
       base=st.floats(0.001, 10.0), extra=st.floats(0.0, 100.0))
def test_delay_bounds(attempt, jitter, base, extra):
    policy = RetryPolicy(base_delay_s=base, max_delay_s=base + extra)
    delay = backoff_delay(policy, attempt, jitter)
    bound = min(policy.max_delay_s, base * 2.0 ** min(attempt - 1, 1000))
    assert 0.0 <= delay <= bound
    assert delay == pytest.approx(jitter * bound)


# -- decide --------------------------------------------------------------------------

POLICY = RetryPolicy(max_attempts=3, max_elapsed_s=10.0, base_delay_s=1.0, max_delay_s=4.0)


def test_done_when_all_succeeded():
    assert decide(POLICY, Outcome.ALL_SUCCEEDED, 1, 0.0, 0.5) == Decision(False, 0.0, "done")


def test_stops_on_fatal_even_with_budget_left():
    d = decide(POLICY, Outcome.FATAL, 1, 0.0, 0.5)
    assert (d.retry, d.delay_s) == (False, 0.0)
    assert "fatal" in d.why


@pytest.mark.parametrize("outcome", [Outcome.ALL_FAILED, Outcome.SOME_FAILED])
def test_retries_failed_attempts_with_backoff(outcome):
    assert decide(POLICY, outcome, 1, 0.0, 0.5) == Decision(True, 0.5, outcome.value)
    assert decide(POLICY, outcome, 2, 3.0, 0.5) == Decision(True, 1.0, outcome.value)


@pytest.mark.parametrize("attempt", [3, 4, 100])
def test_stops_at_max_attempts(attempt):
    d = decide(POLICY, Outcome.ALL_FAILED, attempt, 0.0, 0.0)
    assert (d.retry, d.delay_s) == (False, 0.0)
    assert f"{attempt} attempts" in d.why


def test_stops_when_the_wait_would_exceed_the_elapsed_budget():
    # attempt 2: ceiling 2 s, jitter 0.5 -> 1 s
    assert decide(POLICY, Outcome.ALL_FAILED, 2, 9.0, 0.5) == Decision(True, 1.0, "all_failed")  # exactly 10
    d = decide(POLICY, Outcome.ALL_FAILED, 2, 9.001, 0.5)
    assert (d.retry, d.delay_s) == (False, 0.0)
    assert "retry budget spent" in d.why
    d = decide(POLICY, Outcome.SOME_FAILED, 1, 11.0, 0.0)
    assert d.retry is False


def test_single_attempt_policy_never_retries():
    policy = RetryPolicy(max_attempts=1)
    assert decide(policy, Outcome.ALL_FAILED, 1, 0.0, 0.1).retry is False


# -- RetryPolicy ---------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"max_attempts": 0},
    {"max_attempts": -1},
    {"max_elapsed_s": 0},
    {"max_elapsed_s": -5.0},
    {"base_delay_s": 0},
    {"base_delay_s": -0.1},
    {"base_delay_s": 2.0, "max_delay_s": 1.0},
])
def test_policy_validation(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_policy_equal_base_and_cap_is_allowed():
    p = RetryPolicy(base_delay_s=1.0, max_delay_s=1.0)
    assert backoff_delay(p, 9, 0.5) == 0.5
