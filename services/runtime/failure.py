"""The failure policy as a pure value: ``(error, attempt) -> Retry | DeadLetter``.

One value serves every retrying part of commande: a consumer's records (:meth:`decide`) and
notifier's deliveries (:meth:`decide_outcome`). One backoff expression (:meth:`backoff`:
``base * 2^(attempt - 1)``, capped, optionally spread by jitter) and one attempt limit
(``attempts``) for failures a retry may or may not cure.

For a consumer, transient failures (database or broker unavailable) are retried with capped
exponential backoff, for ever, without committing: a transient failure never loses a message.
Contract violations and the domain's refusals (a rule, a stale state: the same input gives the
same answer) are dead-lettered at once. Anything else (a bug, a missing file, a constraint we
did not foresee) gets ``attempts`` tries, then goes to the dead-letter topic so that one poison
message never blocks its partition.

For a delivery, the channel says whether a failure is permanent (a 4xx, a refused address): it
is given up at once; a transient one (a 5xx, a timeout) is retried with jittered backoff until
``attempts`` tries, then given up.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.errors import CommandeError, ContractError, RuleViolation, StaleState, TransientError

PERMANENT: tuple[type[CommandeError], ...] = (ContractError, RuleViolation, StaleState)
"""Errors that a retry cannot change."""

GIVE_UP_PERMANENT = "permanent"
GIVE_UP_EXHAUSTED = "attempts_exhausted"
_MAX_DOUBLINGS = 64
"""Past this the cap has long been reached; it keeps ``2 ** n`` a float after days of retrying."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again after ``after`` seconds (a consumer: without committing the offset)."""

    after: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Give up: publish the dead letter with ``reason`` (a consumer: then commit past it)."""

    reason: str


Decision = Retry | DeadLetter


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """Backoff and the attempt limit; :meth:`decide` and :meth:`decide_outcome` are pure."""

    base: float = 0.2
    cap: float = 10.0
    attempts: int = 3
    """Tries for a failure that is neither known transient nor known permanent."""

    def backoff(self, attempt: int, jitter: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (attempt counts from 1).

        ``base * 2^(attempt - 1)``, capped at ``cap``; with ``jitter`` in [0, 1) it is spread to
        50–100 % of that, so that many retries of one outage do not come back together.
        """
        doublings = min(_MAX_DOUBLINGS, max(0, attempt - 1))
        full = float(min(self.cap, self.base * 2 ** doublings))
        return full if jitter is None else full * (0.5 + 0.5 * jitter)

    def decide(self, error: BaseException, attempt: int) -> Decision:
        """What a consumer does after ``error`` on try number ``attempt``."""
        if isinstance(error, TransientError):
            return Retry(self.backoff(attempt))
        if isinstance(error, PERMANENT):
            return DeadLetter(describe(error))
        if attempt < self.attempts:
            return Retry(self.backoff(attempt))
        return DeadLetter(f"{describe(error)} (after {attempt} attempts)")

    def decide_outcome(self, *, permanent: bool, attempt: int, jitter: float) -> Decision:
        """After a failed delivery, try number ``attempt`` (from 1), whose channel said whether
        it was ``permanent``; the reason of a :class:`DeadLetter` is :data:`GIVE_UP_PERMANENT`
        or :data:`GIVE_UP_EXHAUSTED`."""
        if permanent:
            return DeadLetter(GIVE_UP_PERMANENT)
        if attempt >= self.attempts:
            return DeadLetter(GIVE_UP_EXHAUSTED)
        return Retry(self.backoff(attempt, jitter))


RECONNECT = FailurePolicy(base=0.4, cap=10.0)
"""How long a background loop waits after its ``n``-th failure in a row: ``RECONNECT.backoff(n)``,
0.4 s doubling to 10 s."""


def describe(error: BaseException) -> str:
    """A description safe for headers and logs.

    Our own errors' messages are written to carry codes and field paths, never values. A foreign
    exception's message may quote data (a driver repeating a row), so only its type is kept.
    """
    if isinstance(error, CommandeError):
        return f"{type(error).__name__}: {error}"[:1000]
    return type(error).__name__
