"""Business days for the event-request reminders (pure): weekdays in America/Toronto that are not
Ontario statutory holidays (:mod:`schemas.reference.calendar`)."""

from __future__ import annotations

from collections.abc import Container
from datetime import date, datetime, timedelta

from schemas.reference.calendar import ZONE


def is_business_day(day: date, holidays: Container[date]) -> bool:
    """A weekday that is not an observed statutory holiday."""
    return day.weekday() < 5 and day not in holidays


def add_business_days(day: date, count: int, holidays: Container[date]) -> date:
    """The ``count``-th business day after ``day`` (``day`` itself never counts)."""
    if count < 0:
        raise ValueError("count must not be negative")
    found = 0
    while found < count:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            found += 1
    return day


def business_deadline(start: datetime, count: int, holidays: Container[date]) -> datetime:
    """The same local (America/Toronto) time of day, ``count`` business days after ``start``."""
    local = start.astimezone(ZONE)
    day = add_business_days(local.date(), count, holidays)
    return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=ZONE)


def end_of_local_day(day: date) -> datetime:
    """Midnight at the end of ``day`` in America/Toronto (aware)."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=ZONE)

