"""Halton's calendar: local dates in America/Toronto, and Ontario's statutory holidays.

Every service takes "today" from :func:`local_date` (a moment after 19:00 in Toronto is still
today there, though it is tomorrow in UTC). The statutory holidays come from the ``holidays``
library (Canada, subdivision ON: New Year's Day, Family Day, Good Friday, Victoria Day, Canada
Day, Labour Day, Thanksgiving, Christmas, Boxing Day, and the weekdays on which a weekend holiday
is observed), so the calendar does not end with a hand-typed list.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import holidays.countries.canada  # see below

# country_holidays("CA") imports the country's module at its first call (~90 ms): that was the
# first placement after each start. Imported here, it is part of the service's start.

TIMEZONE = "America/Toronto"
"""Every table meets in Halton: every local time and date is in this zone."""
ZONE = ZoneInfo(TIMEZONE)


def local_date(moment: datetime) -> date:
    """The America/Toronto date of an aware ``moment``."""
    return moment.astimezone(ZONE).date()


@lru_cache(maxsize=64)
def _year(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("CA", subdiv="ON", years=year))


@lru_cache(maxsize=64)
def _names(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("CA", subdiv="ON", years=year).items())


class OntarioHolidays:
    """Ontario's statutory holidays and their observed weekdays, for any year (a container)."""

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and day in _year(day.year)

    def name(self, day: date) -> str | None:
        """The holiday's name (``"Boxing Day (observed)"``), or ``None`` on another day."""
        return _names(day.year).get(day)


STATUTORY_HOLIDAYS = OntarioHolidays()
