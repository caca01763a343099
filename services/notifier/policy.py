"""The delivery retry policy as a pure value: ``(outcome, attempt) -> RetryAt | GiveUp``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Try again at ``at``."""

    at: datetime


@dataclass(frozen=True, slots=True)
class GiveUp:
    """No further attempt; ``reason`` is ``permanent`` or ``attempts_exhausted``."""

    reason: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, and a limit on attempts."""

    max_attempts: int = 8
    base: float = 5.0
    cap: float = 3600.0

    def delay(self, attempt: int, jitter: float) -> float:
        """Seconds before try ``attempt + 1``; ``jitter`` in [0, 1) spreads retries (50–100%)."""
        full = float(min(self.cap, self.base * (2 ** max(0, attempt - 1))))
        return full * (0.5 + 0.5 * jitter)

    def decide(self, *, permanent: bool, attempt: int, now: datetime,
               jitter: float) -> RetryAt | GiveUp:
        """After failed try number ``attempt`` (from 1)."""
        if permanent:
            return GiveUp("permanent")
        if attempt >= self.max_attempts:
            return GiveUp("attempts_exhausted")
        return RetryAt(now + timedelta(seconds=self.delay(attempt, jitter)))
