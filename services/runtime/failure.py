"""The failure policy as a pure value: ``(error, attempt) -> Retry | DeadLetter``.

Transient failures (database or broker unavailable) are retried with capped exponential backoff,
for ever, without committing: a transient failure never loses a message. Contract violations and
the domain's refusals (a rule, a stale state: the same input gives the same answer) are
dead-lettered at once. Anything else (a bug, a missing file, a constraint we did not foresee)
gets a few tries, then goes to the dead-letter topic so that one poison message never blocks its
partition.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.errors import CommandeError, ContractError, RuleViolation, StaleState, TransientError

PERMANENT: tuple[type[CommandeError], ...] = (ContractError, RuleViolation, StaleState)
"""Errors that a retry cannot change."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again after ``after`` seconds, without committing the offset."""

    after: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Publish the original record to the DLQ with ``reason``, then commit past it."""

    reason: str


Decision = Retry | DeadLetter


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """Backoff and attempt limits; :meth:`decide` is pure."""

    base: float = 0.2
    cap: float = 10.0
    unexpected_attempts: int = 3

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before try ``attempt + 1`` (attempt counts from 1)."""
        return float(min(self.cap, self.base * (2 ** max(0, attempt - 1))))

    def decide(self, error: BaseException, attempt: int) -> Decision:
        """What to do after ``error`` on try number ``attempt``."""
        if isinstance(error, TransientError):
            return Retry(self.backoff(attempt))
        if isinstance(error, PERMANENT):
            return DeadLetter(describe(error))
        if attempt < self.unexpected_attempts:
            return Retry(self.backoff(attempt))
        return DeadLetter(f"{describe(error)} (after {attempt} attempts)")


def describe(error: BaseException) -> str:
    """A description safe for headers and logs.

    Our own errors' messages are written to carry codes and field paths, never values. A foreign
    exception's message may quote data (a driver repeating a row), so only its type is kept.
    """
    if isinstance(error, CommandeError):
        return f"{type(error).__name__}: {error}"[:1000]
    return type(error).__name__
