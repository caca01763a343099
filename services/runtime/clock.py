"""The clock is injected: shells ask it for ``now`` and pass that into the pure core.

Tests use :class:`ManualClock` to move time (24/48-hour timers, agenda lead times, reminders).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The time the test set."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; returns the new now."""
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware)."""
        if moment.tzinfo is None:
            raise ValueError("aware datetimes only")
        self._now = moment.astimezone(UTC)
