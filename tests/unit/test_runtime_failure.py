"""The failure policy is a pure function: (error, attempt) -> Retry | DeadLetter, for a consumer's
records and for notifier's deliveries alike."""

from __future__ import annotations

import pytest

from schemas.errors import ContractError, RuleViolation, TransientError
from services.runtime.failure import (
    GIVE_UP_EXHAUSTED,
    GIVE_UP_PERMANENT,
    RECONNECT,
    DeadLetter,
    FailurePolicy,
    Retry,
    describe,
)

pytestmark = pytest.mark.unit
policy = FailurePolicy(base=0.5, cap=8.0, attempts=3)


@pytest.mark.parametrize("attempt", [1, 2, 10, 1000, 100_000])
def test_transient_failures_are_retried_for_ever_with_capped_backoff(attempt: int) -> None:
    decision = policy.decide(TransientError("db away"), attempt)
    assert isinstance(decision, Retry)
    assert decision.after == (8.0 if attempt > 64 else min(8.0, 0.5 * 2 ** (attempt - 1)))


def test_contract_violations_are_dead_lettered_at_once() -> None:
    decision = policy.decide(ContractError("missing ce_id"), 1)
    assert decision == DeadLetter("ContractError: missing ce_id")


def test_unexpected_errors_get_a_few_tries_then_the_dlq() -> None:
    assert isinstance(policy.decide(KeyError("x"), 1), Retry)
    assert isinstance(policy.decide(KeyError("x"), 2), Retry)
    final = policy.decide(KeyError("x"), 3)
    assert isinstance(final, DeadLetter)
    assert final.reason == "KeyError (after 3 attempts)"


def test_foreign_messages_are_not_repeated_since_they_may_quote_data() -> None:
    leak = ValueError("duplicate key (name)=(Jane Synthetic)")
    assert describe(leak) == "ValueError"
    assert "Synthetic" not in describe(leak)
    assert describe(RuleViolation("unknown risk factor code")) == (
        "RuleViolation: unknown risk factor code")


def test_deliveries_back_off_with_jitter_then_give_up() -> None:
    """Notifier's delivery retries: the same backoff, spread to 50-100 %, and the same limit."""
    deliveries = FailurePolicy(base=2.0, cap=5.0, attempts=4)
    assert deliveries.backoff(1, 0.0) == 1.0
    assert deliveries.backoff(1, 0.999) < 2.0
    assert deliveries.backoff(2, 0.0) == 2.0
    assert deliveries.backoff(10, 0.0) == 2.5  # capped at 5 s, jitter keeps 50-100 %
    assert deliveries.backoff(2) == 4.0  # no jitter: the full delay, as a consumer waits
    assert deliveries.decide_outcome(permanent=False, attempt=1, jitter=0.0) == Retry(1.0)
    assert deliveries.decide_outcome(permanent=True, attempt=1, jitter=0.0) == DeadLetter(
        GIVE_UP_PERMANENT)
    assert deliveries.decide_outcome(permanent=False, attempt=4, jitter=0.0) == DeadLetter(
        GIVE_UP_EXHAUSTED)
    assert (GIVE_UP_PERMANENT, GIVE_UP_EXHAUSTED) == ("permanent", "attempts_exhausted")


def test_background_loops_wait_for_a_dependency_with_the_same_expression() -> None:
    """What the relay, delivery and the gateway's listener waited (their own copy) before."""
    assert [RECONNECT.backoff(failures) for failures in range(1, 10)] == [
        min(10.0, 0.2 * 2 ** min(failures, 6)) for failures in range(1, 10)]
