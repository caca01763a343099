"""The failure policy is a pure function: (error, attempt) -> Retry | DeadLetter."""

from __future__ import annotations

import pytest

from schemas.errors import ContractError, RuleViolation, TransientError
from services.runtime.failure import DeadLetter, FailurePolicy, Retry, describe

pytestmark = pytest.mark.unit
policy = FailurePolicy(base=0.5, cap=8.0, unexpected_attempts=3)


@pytest.mark.parametrize("attempt", [1, 2, 10, 1000])
def test_transient_failures_are_retried_for_ever_with_capped_backoff(attempt: int) -> None:
    decision = policy.decide(TransientError("db away"), attempt)
    assert isinstance(decision, Retry)
    assert decision.after == min(8.0, 0.5 * 2 ** (attempt - 1))


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
