"""Community event requests: intake's checks (every reason at once, each naming its field) and
the business-day calendar of the reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from schemas.event_requests import (
    EventLocation,
    EventRequestSubmitted,
    Requester,
    TimeWindow,
    well_formed_email,
)
from schemas.reference import reference
from schemas.reference.calendar import ZONE
from services.intake.event_requests.calendar import (
    add_business_days,
    business_deadline,
)
from services.intake.event_requests.rules import (
    EventRuleConfig,
    check,
    well_formed_phone,
)
from tests.support.samples import NOW, sample

pytestmark = pytest.mark.unit

HOLIDAYS = reference().holiday_dates


def request(**overrides: Any) -> EventRequestSubmitted:
    return sample(EventRequestSubmitted, **overrides)


def codes(event: EventRequestSubmitted, **config: Any) -> list[tuple[str, str | None]]:
    checked = check(event, reference=reference(), config=EventRuleConfig(**config))
    return [(r.code, r.field) for r in checked.reasons]


def window(days_ahead: int) -> TimeWindow:
    return TimeWindow(date=(NOW.astimezone(ZONE) + timedelta(days=days_ahead)).date(),
                      start=time(18, 30), end=time(20, 0))


def test_the_sample_request_is_accepted_for_milton_in_1_district() -> None:
    checked = check(request(), reference=reference())
    assert checked.ok
    assert (checked.municipality, checked.district) == ("milton", "district_1")
    assert checked.earliest_acceptable_date is None


@pytest.mark.parametrize(("typed", "municipality", "district"), [
    ("Milton", "milton", "district_1"), ("Georgetown", "georgetown", "district_1"),
    ("Acton", "acton", "district_1"), ("Halton Hills", "halton_hills", "district_1"),
    ("town of oakville", "oakville", "district_2"), ("BURLINGTON", "burlington", "district_3"),
])
def test_each_halton_municipality_gives_its_district(typed: str, municipality: str,
                                                     district: str) -> None:
    checked = check(request(location=EventLocation(municipality=typed, address_or_venue="Hall")),
                    reference=reference())
    assert checked.ok, checked.reasons
    assert (checked.municipality, checked.district) == (municipality, district)


@pytest.mark.parametrize(("typed", "municipality"), [
    (" glen-williams ", "halton_hills"), ("Limehouse", "halton_hills"),
    ("ACTON, ON", "acton"), ("Géorgetown", "georgetown"), ("Aldershot", "burlington"),
])
def test_communities_and_spellings_give_their_municipality(typed: str, municipality: str) -> None:
    checked = check(request(location=EventLocation(municipality=typed, address_or_venue="Hall")),
                    reference=reference())
    assert checked.ok, checked.reasons
    assert checked.municipality == municipality


def test_a_municipality_outside_halton_is_refused() -> None:
    event = request(location=EventLocation(municipality="Hamilton", address_or_venue="Hall"))
    assert codes(event) == [("municipality_outside_halton", "location.municipality")]
    (reason,) = check(event, reference=reference()).reasons
    assert reason.message.startswith("Hamilton is outside Halton")


def test_an_unknown_municipality_is_refused_naming_the_accepted_spellings() -> None:
    event = request(location=EventLocation(municipality="Springfield", address_or_venue="Hall"))
    assert codes(event) == [("municipality_unknown", "location.municipality")]
    (reason,) = check(event, reference=reference()).reasons
    assert "Springfield" not in reason.message
    assert all(name in reason.message for name in ("Acton", "Glen Williams", "Oakville"))


def test_29_days_is_short_notice_with_the_earliest_acceptable_date() -> None:
    event = request(windows=(window(29), window(45)))
    checked = check(event, reference=reference())
    assert [(r.code, r.field) for r in checked.reasons] == [("notice_too_short", "windows.0.date")]
    earliest = NOW.astimezone(ZONE).date() + timedelta(days=30)
    assert checked.earliest_acceptable_date == earliest
    assert earliest.isoformat() in checked.reasons[0].message
    assert check(request(windows=(window(30),)), reference=reference()).ok


def test_notice_counts_from_the_toronto_date_of_the_submission() -> None:
    # 02:00 UTC on 6 January is still 5 January in Toronto: the 30 days count from the 5th.
    submitted = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
    event = request(submitted_at=submitted,
                    windows=(TimeWindow(date=date(2026, 2, 4), start=time(10), end=time(11)),))
    assert check(event, reference=reference()).ok
    assert codes(event, min_notice_days=31) == [("notice_too_short", "windows.0.date")]


def test_missing_details_are_all_named_at_once() -> None:
    event = EventRequestSubmitted(request_id=request().request_id, submitted_at=NOW)
    assert codes(event) == [
        ("kind_missing", "kind"),
        ("windows_missing", "windows"),
        ("municipality_missing", "location.municipality"),
        ("address_or_venue_missing", "location.address_or_venue"),
        ("topics_missing", "topics"),
        ("expected_attendees_missing", "expected_attendees"),
        ("requester_name_missing", "requester.name"),
        ("mailing_address_missing", "requester.mailing_address"),
        ("daytime_phone_missing", "requester.daytime_phone"),
        ("email_missing", "requester.email"),
    ]


def test_blank_text_counts_as_missing_and_free_text_topics_suffice() -> None:
    event = request(topics=(), topics_other="Phone scams",
                    requester=Requester(name=" ", mailing_address="1 Example St",
                                        daytime_phone="905-555-0100", email="a@example.org"))
    assert codes(event) == [("requester_name_missing", "requester.name")]


def test_malformed_contact_unknown_topic_and_no_attendees() -> None:
    event = request(topics=("seniors_safety", "astrology"), expected_attendees=0,
                    requester=Requester(name="Sample", mailing_address="1 Example St",
                                        daytime_phone="call me", email="not-an-address"))
    assert codes(event) == [
        ("topic_unknown", "topics.1"),
        ("expected_attendees_invalid", "expected_attendees"),
        ("daytime_phone_malformed", "requester.daytime_phone"),
        ("email_malformed", "requester.email"),
    ]


def test_no_reason_quotes_what_the_requester_typed() -> None:
    event = request(location=EventLocation(municipality="Zorblaxville", address_or_venue=" "),
                    requester=Requester(name="Zed", mailing_address="x",
                                        daytime_phone="Zorblax-phone", email="zorblax@"))
    text = " ".join(r.message for r in check(event, reference=reference()).reasons)
    assert "orblax" not in text


@pytest.mark.parametrize("phone", ["905-555-0100", "(905) 555-0100", "+1 905 555 0100",
                                   "1-905-555-0100", "905.555.0100 ext. 204", "+44 20 7946 0018"])
def test_well_formed_phones(phone: str) -> None:
    assert well_formed_phone(phone)


@pytest.mark.parametrize("phone", ["555-0100", "call me", "905-555-01000-1", "2-905-555-0100",
                                   "+1", "905 555 0100 ext"])
def test_malformed_phones(phone: str) -> None:
    assert not well_formed_phone(phone)


@pytest.mark.parametrize(("email", "ok"), [
    ("events@example.org", True), ("first.last+cmb@sub.example.ca", True),
    ("no-at.example.org", False), ("a@b", False), ("a@example.", False), ("a b@example.org", False),
])
def test_email_shape(email: str, ok: bool) -> None:
    assert well_formed_email(email) is ok


def test_business_days_skip_weekends_and_statutory_holidays() -> None:
    assert add_business_days(date(2026, 1, 5), 3, HOLIDAYS) == date(2026, 1, 8)  # Mon -> Thu
    assert add_business_days(date(2026, 1, 8), 2, HOLIDAYS) == date(2026, 1, 12)  # Thu -> Mon
    assert add_business_days(date(2026, 1, 10), 1, HOLIDAYS) == date(2026, 1, 12)  # Sat -> Mon
    # Family Day (Mon 16 Feb 2026) is not a business day
    assert add_business_days(date(2026, 2, 12), 3, HOLIDAYS) == date(2026, 2, 18)
    # Christmas Friday and Boxing Day observed on Monday 28 December
    assert add_business_days(date(2026, 12, 24), 1, HOLIDAYS) == date(2026, 12, 29)


def test_a_deadline_keeps_the_local_time_of_day_across_a_dst_change() -> None:
    start = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # Friday 10:00 EST
    due = business_deadline(start, 3, HOLIDAYS)  # Wednesday 11 March, 10:00 EDT
    assert due.astimezone(ZONE).replace(tzinfo=None) == datetime(2026, 3, 11, 10, 0)
    assert due.astimezone(UTC) == datetime(2026, 3, 11, 14, 0, tzinfo=UTC)
