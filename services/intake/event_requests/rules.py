"""The checks a community event request must pass, all at once, each naming its field (pure).

A request needs the five kinds of details (what, when, where, which topics and for how many,
and who to call back), every preferred date at least ``min_notice_days`` after the submission
(America/Toronto dates), a Halton municipality (which gives the district), a well-formed e-mail
and phone, and known topic codes. Messages are sentences a person can act on; they never quote
what the requester typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from schemas.event_requests import EventRequestSubmitted, Requester, well_formed_email
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from schemas.reference.models import Municipality
from schemas.reference.places import accepted_spellings, towns
from schemas.referrals import REASON_MESSAGE_MAX, Reason

_PHONE = re.compile(r"^\+?[0-9 ().\-]{7,25}$")
_EXTENSION = re.compile(r"\s*(?:ext\.?|x|#)\s*[0-9]{1,6}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class EventRuleConfig:
    """Configurable thresholds (default: 30 days' notice)."""

    min_notice_days: int = 30


@dataclass(frozen=True, slots=True)
class EventChecked:
    """The outcome of :func:`check`.

    Attributes:
        municipality: the Halton municipality code, when recognised.
        district: its district code.
        earliest_acceptable_date: set when a preferred date is too soon: the first date a
            request submitted at the same time would be accepted for.
        reasons: every reason to reject (empty: accept).
    """

    municipality: str | None
    district: str | None
    earliest_acceptable_date: date | None
    reasons: tuple[Reason, ...]

    @property
    def ok(self) -> bool:
        """No reason to reject."""
        return not self.reasons


def _reason(code: str, field: str | None, message: str) -> Reason:
    return Reason(code=code, field=field, message=message)


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def earliest_date(event: EventRequestSubmitted, config: EventRuleConfig) -> date:
    """The first preferred date a request submitted when ``event`` was could ask for."""
    return local_date(event.submitted_at) + timedelta(days=config.min_notice_days)


def well_formed_phone(text: str) -> bool:
    """A phone number of 10 to 15 digits (an extension is allowed), as people write them."""
    number = _EXTENSION.sub("", text.strip())
    if not _PHONE.fullmatch(number):
        return False
    digits = re.sub(r"[^0-9]", "", number)
    if number.startswith("+"):
        return 8 <= len(digits) <= 15
    return len(digits) == 10 or (len(digits) == 11 and digits.startswith("1"))


def check(event: EventRequestSubmitted, *, reference: Reference,
          config: EventRuleConfig = EventRuleConfig()) -> EventChecked:
    """Every rule on ``event``; the district comes from the municipality.

    Args:
        event: the submission (contract-valid; presence and formats are judged here).
        reference: municipalities and districts, event topics.
        config: the notice period.
    """
    reasons: list[Reason] = []
    if event.kind is None:
        reasons.append(_reason(
            "kind_missing", "kind",
            "Say what you ask for: speaker, district_tour or event_participation."))
    earliest = _windows(event, config, reasons)
    municipality, district = _location(event, reference, reasons)
    _topics(event, reference, reasons)
    if event.expected_attendees is None:
        reasons.append(_reason(
            "expected_attendees_missing", "expected_attendees",
            "Give the number of people expected."))
    elif event.expected_attendees < 1:
        reasons.append(_reason(
            "expected_attendees_invalid", "expected_attendees",
            "The number of people expected must be at least 1."))
    _requester(event.requester, reasons)
    return EventChecked(municipality=municipality, district=district,
                        earliest_acceptable_date=earliest, reasons=tuple(reasons))


def _windows(event: EventRequestSubmitted, config: EventRuleConfig,
             out: list[Reason]) -> date | None:
    if not event.windows:
        out.append(_reason(
            "windows_missing", "windows",
            "Give at least one preferred date with a start and end time."))
        return None
    earliest = earliest_date(event, config)
    too_soon = False
    for i, window in enumerate(event.windows):
        if window.date < earliest:
            too_soon = True
            out.append(_reason(
                "notice_too_short", f"windows.{i}.date",
                f"Requests need at least {config.min_notice_days} days' notice; choose a date "
                f"on or after {earliest.isoformat()}."))
    return earliest if too_soon else None


def _location(event: EventRequestSubmitted, reference: Reference,
              out: list[Reason]) -> tuple[str | None, str | None]:
    location = event.location
    name = location.municipality if location is not None else None
    venue = location.address_or_venue if location is not None else None
    municipality: str | None = None
    district: str | None = None
    if _blank(name):
        out.append(_reason(
            "municipality_missing", "location.municipality",
            "Give the municipality where the event takes place."))
    else:
        assert name is not None
        place = reference.place(name)  # the one place-name lookup, as for referrals
        found = reference.district_for(place.code) if isinstance(place, Municipality) else None
        if place is not None and found is not None:
            municipality, district = place.code, found.code
        elif place is not None:
            out.append(_reason(
                "municipality_outside_halton", "location.municipality",
                f"{place.name} is outside Halton; Halton Regional Police serve "
                f"{', '.join(towns(reference.districts))}. For an event there, ask the police "
                "service of that area."))
        else:
            before = ("We do not recognise the municipality; write a Halton municipality or "
                      "community: ")
            after = " (any case, accents, spaces or hyphens)."
            room = REASON_MESSAGE_MAX - len(before) - len(after)
            out.append(_reason("municipality_unknown", "location.municipality",
                               before + accepted_spellings(reference.districts, room) + after))
    if _blank(venue):
        out.append(_reason(
            "address_or_venue_missing", "location.address_or_venue",
            "Give the street address or the name of the venue."))
    return municipality, district


def _topics(event: EventRequestSubmitted, reference: Reference, out: list[Reason]) -> None:
    known = reference.codes("event_topics")
    if not event.topics and _blank(event.topics_other):
        out.append(_reason(
            "topics_missing", "topics",
            "Choose at least one topic from the list, or describe the topic in topics_other."))
    for i, code in enumerate(event.topics):
        if code not in known:
            out.append(_reason(
                "topic_unknown", f"topics.{i}",
                f"Unknown topic code; use one of {', '.join(sorted(known))}, or describe it "
                "in topics_other."))


def _requester(requester: Requester | None, out: list[Reason]) -> None:
    name = requester.name if requester else None
    mailing = requester.mailing_address if requester else None
    phone = requester.daytime_phone if requester else None
    email = requester.email if requester else None
    if _blank(name):
        out.append(_reason("requester_name_missing", "requester.name",
                           "Give your name, so the District knows who to ask for."))
    if _blank(mailing):
        out.append(_reason("mailing_address_missing", "requester.mailing_address",
                           "Give a mailing address."))
    if _blank(phone):
        out.append(_reason("daytime_phone_missing", "requester.daytime_phone",
                           "Give a phone number where the District can reach you in the day."))
    elif phone is not None and not well_formed_phone(phone):
        out.append(_reason("daytime_phone_malformed", "requester.daytime_phone",
                           "The daytime phone is not a phone number; write it with its area "
                           "code, e.g. 905 555 0100."))
    if _blank(email):
        out.append(_reason("email_missing", "requester.email",
                           "Give an e-mail address: the District's answer is sent there."))
    elif email is not None and not well_formed_email(email):
        out.append(_reason("email_malformed", "requester.email",
                           "The e-mail address is not well formed (name@example.org)."))
