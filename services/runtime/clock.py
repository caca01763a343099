"""The clock is injected: shells ask it for ``now`` and pass that into the pure core.

Tests use :class:`ManualClock` to move time (24/48-hour timers, agenda lead times, reminders).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
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


class OffsetFileClock:
    """Real time plus an offset read from a file: lets a demo or an e2e test move time forward
    for services running as separate processes (``COMMANDE_CLOCK_OFFSET_FILE``).

    The file holds a number of seconds (float); a missing or empty file means no offset.
    The offset never goes backwards: a smaller value than one already seen is ignored.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0.0
        self._mtime = -1

    def _read(self) -> float:
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            return self._offset
        if mtime != self._mtime:
            self._mtime = mtime
            text = self._path.read_text().strip()
            with contextlib.suppress(ValueError):
                self._offset = max(self._offset, float(text or 0.0))
        return self._offset

    def now(self) -> datetime:
        """Now plus the offset in the file."""
        return datetime.now(UTC) + timedelta(seconds=self._read())

    @staticmethod
    def advance_file(path: Path, delta: timedelta) -> None:
        """Move every process reading ``path`` forward by ``delta``."""
        current = 0.0
        with contextlib.suppress(FileNotFoundError, ValueError):
            current = float(path.read_text().strip() or 0.0)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{current + delta.total_seconds()}\n")
        tmp.replace(path)


def clock_for(offset_file: Path | None) -> Clock:
    """The process's clock: real time, or real time plus a test/demo offset file."""
    return OffsetFileClock(offset_file) if offset_file is not None else SystemClock()
