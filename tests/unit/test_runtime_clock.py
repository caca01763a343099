"""Clocks: the manual one for in-process tests, the offset file for services as processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.runtime.clock import ManualClock, OffsetFileClock, SystemClock, clock_for

pytestmark = pytest.mark.unit


def test_the_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2026, 3, 8, 6, 0, tzinfo=UTC))
    assert clock.now() == datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    assert clock.advance(timedelta(hours=48)) == datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))


def test_the_offset_file_moves_every_reader_forward_and_never_back(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = OffsetFileClock(path)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1
    OffsetFileClock.advance_file(path, timedelta(hours=25))
    ahead = (clock.now() - datetime.now(UTC)).total_seconds()
    assert 25 * 3600 - 1 < ahead < 25 * 3600 + 1
    path.write_text("10\n")
    assert (clock.now() - datetime.now(UTC)).total_seconds() > 25 * 3600 - 1


def test_without_an_offset_file_the_clock_is_the_real_one(tmp_path: Path) -> None:
    assert isinstance(clock_for(None), SystemClock)
    assert isinstance(clock_for(tmp_path / "x"), OffsetFileClock)
