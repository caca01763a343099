"""Community event requests: the public asks a district's CMB for a speaker, a district tour or the
Service's participation at a community event (30 days' notice), and the CMB manager follows up.

Two streams, both keyed by the request id:

- ``commande.event-request-submissions.v1`` (restricted, like the referrals topic) carries
  :class:`EventRequestSubmitted`, the only event with the requester's contact details in the clear,
  and the CMB's follow-up commands (:class:`ScheduleEventRequest`, :class:`DeclineEventRequest`,
  :class:`WithdrawEventRequest`). Intake reads it; the notifier reads the submissions to address the
  requester and to give the CMB manager what they need to call back.
- ``commande.event-requests.v1`` carries intake's de-identified answers and facts: a confirmation
  of the requester's address asked for, the address confirmed, the request expired unconfirmed,
  acknowledged, rejected (every reason, and the earliest acceptable date when the notice was too
  short), scheduled, declined, withdrawn, a refused command, a reminder due, and the purge of the
  contact.

A request from the public (no agency token) is acted on only once its requester proves they read
the address they gave: intake asks (:class:`EventRequestConfirmationRequested`), notifier sends a
fixed-text e-mail with a link (:data:`CONFIRMATION_PATH`, a token signed for
:data:`CONFIRMATION_PURPOSE`), and a ``POST`` on that link confirms it
(:class:`EventRequestConfirmed`, then the answer) or, past the deadline, the request expires
(:class:`EventRequestExpired`) and its contact is purged.

The submission is deliberately permissive about *presence* and *format* of the details (every detail
field is optional, e-mail and phone are plain text): intake's rules name everything missing or
malformed at once in :class:`EventRequestRejected`, which a person can act on, instead of the record
ending in the dead-letter topic. Types and lengths are strict, as everywhere.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from schemas.base import (
    CE_TYPE_PATTERN,
    AgencyId,
    AnyUuid,
    Code,
    Command,
    Contract,
    Date,
    Event,
    Message,
    ShortText,
    UtcDatetime,
    Uuid7,
)
from schemas.referrals import Reason
from schemas.topics import EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS

EventRequestKind = Literal["speaker", "district_tour", "event_participation"]
"""What is asked for: an officer to speak, a tour of a district station, or the Service's
participation at a community event (festival, road race, cultural event)."""

EscalationLevel = Literal["cmb_manager", "staff_sergeant"]
"""Who a reminder goes to: first the district's CMB manager, then the district Staff Sergeant."""

LOCAL_TIME_PATTERN = r"^[0-2][0-9]:[0-5][0-9]"
"""The v1 schemas' pattern of a local time (kept: a tighter one would be a narrowing, refused for
a published type by :mod:`schemas.compat`; the model checks the rest)."""


def _local(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a local wall-clock time in America/Toronto has no offset: write "
                         "HH:MM or HH:MM:SS")
    return value


LocalTime = Annotated[
    time,
    Strict(),
    AfterValidator(_local),
    WithJsonSchema({
        "type": "string",
        "pattern": LOCAL_TIME_PATTERN,
        "description": "local wall-clock time in America/Toronto, HH:MM[:SS], no offset "
                       "(not an RFC 3339 time, which requires one)",
    }),
]
"""A wall-clock time in America/Toronto, ``HH:MM`` (seconds allowed, ignored by people); never
an offset. Its schema is a pattern, not ``format: time``: RFC 3339's ``time`` requires an offset,
so a validator checking formats would refuse every one of our times."""

DetailText = Annotated[str, StringConstraints(strict=True, max_length=280)]
"""A detail as the requester typed it (may be empty or malformed; intake's rules judge it)."""

Attendees = Annotated[int, Strict(), Field(ge=0, le=1_000_000)]

CONFIRMATION_PURPOSE: Final = "commande.event-request.confirm.v1"
"""The purpose a confirmation link's token is signed for (:mod:`services.runtime.links`), with the
secret ``COMMANDE_EVENT_CONFIRM_SECRET`` that notifier (which mails the link) and intake (which
serves it) share."""
CONFIRMATION_PATH: Final = "/v1/event-requests/confirm/"
"""The confirmation link is ``COMMANDE_INTAKE_PUBLIC_URL`` + this path + the token: ``GET`` shows
which request it confirms, ``POST`` confirms."""

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$")


def well_formed_email(text: str) -> bool:
    """An address of the usual ``local@domain.tld`` shape. The one test of an address: intake's
    rules reject a request without one, intake asks only such an address to confirm, and notifier
    mails a requester only at such an address."""
    return bool(_EMAIL.fullmatch(text.strip()))


class TimeWindow(Contract):
    """A preferred date and time window, wall-clock time in America/Toronto.

    Attributes:
        date: the day.
        start: from (local time).
        end: until (local time), after ``start``.
    """

    date: Date
    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _end_after_start(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class EventLocation(Contract):
    """Where the event is.

    Attributes:
        municipality: the municipality as typed (a name like ``Oakville`` or a code like
            ``halton_hills``); intake maps it to a Halton municipality and its district.
        address_or_venue: street address or venue name.
    """

    municipality: DetailText | None = None
    address_or_venue: DetailText | None = None


class Requester(Contract):
    """Who asks, and how the District calls them back. Identified: restricted topic only.

    Attributes:
        name: the requester's name.
        organization: the organization they ask for, if any.
        mailing_address: a mailing address.
        daytime_phone: a daytime phone number.
        email: an e-mail address.
    """

    name: Annotated[str, StringConstraints(strict=True, max_length=100)] | None = None
    organization: DetailText | None = None
    mailing_address: DetailText | None = None
    daytime_phone: Annotated[str, StringConstraints(strict=True, max_length=40)] | None = None
    email: Annotated[str, StringConstraints(strict=True, max_length=254)] | None = None


class RequestKeyed(Message):
    """Keyed by the request id: a request's submission, commands and facts stay in order."""

    request_id: Uuid7

    def key(self) -> str:
        """The request id."""
        return str(self.request_id)


class EventRequestSubmitted(RequestKeyed, Event):
    """The public or an organization asks for a speaker, a district tour or event participation.

    The submitter mints ``request_id`` (the HTTP ingress does it for web requests and returns it);
    a second submission with the same id is a duplicate and changes nothing.

    Attributes:
        submitted_at: when it was submitted; the 30 days' notice counts from here.
        kind: speaker, district tour or event participation.
        windows: one or more preferred dates and time windows.
        location: where.
        topics: topic codes from the reference list (``event_topics.yaml``).
        topics_other: other topics, in the requester's words.
        expected_attendees: how many people are expected.
        requester: who asks and how to reach them.
        agency_id: set when an organization submitted it with its agency token.
    """

    ce_type = "ca.halton.commande.eventrequest.submitted.v1"
    topic = EVENT_REQUEST_SUBMISSIONS

    submitted_at: UtcDatetime
    kind: EventRequestKind | None = None
    windows: tuple[TimeWindow, ...] = Field(default=(), max_length=10)
    location: EventLocation | None = None
    topics: tuple[Code, ...] = Field(default=(), max_length=20)
    topics_other: DetailText | None = None
    expected_attendees: Attendees | None = None
    requester: Requester | None = None
    agency_id: AgencyId | None = None


class EventRequestCommand(RequestKeyed, Command):
    """A CMB follow-up command about one request (``actor.role`` is ``cmb``); intake may refuse it."""

    topic = EVENT_REQUEST_SUBMISSIONS


class ScheduleEventRequest(EventRequestCommand):
    """The CMB manager schedules the request.

    Attributes:
        date: the day agreed with the requester.
        start: the time agreed (America/Toronto).
        officer_role: the role that will attend (``community_safety_officer``, ``cmb_officer``...),
            never an officer's name.
        notes: a note for the requester (no personal details).
    """

    ce_type = "ca.halton.commande.eventrequest.schedule.v1"

    date: Date
    start: LocalTime
    officer_role: Code
    notes: ShortText | None = None


class DeclineEventRequest(EventRequestCommand):
    """The CMB manager declines the request.

    Attributes:
        reason: a decline-reason code (``no_capacity``, ``date_unavailable``, ``outside_mandate``...).
        note: a sentence for the requester (no personal details).
    """

    ce_type = "ca.halton.commande.eventrequest.decline.v1"

    reason: Code
    note: ShortText | None = None


class WithdrawEventRequest(EventRequestCommand):
    """The request is withdrawn (the requester told the District they no longer need it).

    Attributes:
        reason: a reason code (``no_longer_needed``, ``submitted_in_error``...).
    """

    ce_type = "ca.halton.commande.eventrequest.withdraw.v1"

    reason: Code


class EventRequestEvent(RequestKeyed, Event):
    """A de-identified fact about a request, on ``commande.event-requests.v1``."""

    topic = EVENT_REQUESTS


class EventRequestConfirmationRequested(EventRequestEvent):
    """A request from the public waits for its requester to confirm the e-mail address they gave.

    Notifier sends a fixed-text e-mail with a link to confirm, nothing the requester wrote.
    Nothing else is done (no CMB notice, no acknowledgement) until the address is confirmed.

    Attributes:
        requested_at: when intake received the request (and asked for the confirmation).
        expires_at: when an unconfirmed request expires and its contact is purged.
        kind: what is asked for, when given.
        municipality: the Halton municipality code, when recognised.
        district: its district, when recognised.
        windows: the preferred windows as intake read them (dates and times only).
    """

    ce_type = "ca.halton.commande.eventrequest.confirmation_requested.v1"

    requested_at: UtcDatetime
    expires_at: UtcDatetime
    kind: EventRequestKind | None = None
    municipality: Code | None = None
    district: Code | None = None
    windows: tuple[TimeWindow, ...] = Field(default=(), max_length=10)


class EventRequestConfirmed(EventRequestEvent):
    """The requester confirmed their address (a ``POST`` on the link mailed to it).

    Intake's answer (acknowledged or rejected) follows at once, and from then on the request is
    handled as any other.

    Attributes:
        confirmed_at: when.
    """

    ce_type = "ca.halton.commande.eventrequest.confirmed.v1"

    confirmed_at: UtcDatetime


class EventRequestExpired(EventRequestEvent):
    """Nobody confirmed the requester's address in time: the request expired unanswered.

    Its contact is purged at once (an :class:`EventRequestContactPurged` follows).

    Attributes:
        expired_at: when.
        district: the district, when recognised.
    """

    ce_type = "ca.halton.commande.eventrequest.expired.v1"

    expired_at: UtcDatetime
    district: Code | None = None


class EventRequestAcknowledged(EventRequestEvent):
    """Intake accepted the request; the district's CMB manager will follow up.

    Attributes:
        district: the district that follows up.
        municipality: the Halton municipality code.
        kind: what is asked for.
        windows: the preferred windows (dates and times only).
        topics: topic codes.
        expected_attendees: how many people are expected.
        organization_request: whether an organization (agency token) submitted it.
        acknowledged_at: when.
    """

    ce_type = "ca.halton.commande.eventrequest.acknowledged.v1"

    district: Code
    municipality: Code
    kind: EventRequestKind
    windows: tuple[TimeWindow, ...] = Field(min_length=1, max_length=10)
    topics: tuple[Code, ...] = Field(default=(), max_length=20)
    expected_attendees: Attendees
    organization_request: Annotated[bool, Strict()] = False
    acknowledged_at: UtcDatetime


class EventRequestRejected(EventRequestEvent):
    """Intake refused the request, with every reason.

    Attributes:
        rejected_at: when.
        reasons: every reason found (each names its field), not only the first.
        earliest_acceptable_date: when the notice was too short, the first date that would be
            accepted for a request submitted when this one was.
        kind: what was asked for, when known (for statistics).
        municipality: the Halton municipality code, when recognised.
        district: its district, when recognised.
    """

    ce_type = "ca.halton.commande.eventrequest.rejected.v1"

    rejected_at: UtcDatetime
    reasons: tuple[Reason, ...] = Field(min_length=1, max_length=100)
    earliest_acceptable_date: Date | None = None
    kind: EventRequestKind | None = None
    municipality: Code | None = None
    district: Code | None = None


class EventRequestScheduled(EventRequestEvent):
    """The CMB manager scheduled the request.

    Attributes:
        district: the district.
        date: the day.
        start: the time (America/Toronto).
        officer_role: the role that will attend.
        notes: the manager's note for the requester.
        scheduled_at: when it was recorded.
    """

    ce_type = "ca.halton.commande.eventrequest.scheduled.v1"

    district: Code
    date: Date
    start: LocalTime
    officer_role: Code
    notes: ShortText | None = None
    scheduled_at: UtcDatetime


class EventRequestDeclined(EventRequestEvent):
    """The CMB manager declined the request.

    Attributes:
        district: the district.
        reason: the decline-reason code.
        note: the manager's sentence for the requester.
        declined_at: when.
    """

    ce_type = "ca.halton.commande.eventrequest.declined.v1"

    district: Code
    reason: Code
    note: ShortText | None = None
    declined_at: UtcDatetime


class EventRequestWithdrawn(EventRequestEvent):
    """The request was withdrawn.

    Attributes:
        district: the district.
        reason: the reason code.
        withdrawn_at: when.
    """

    ce_type = "ca.halton.commande.eventrequest.withdrawn.v1"

    district: Code
    reason: Code
    withdrawn_at: UtcDatetime


class EventRequestReminderDue(EventRequestEvent):
    """Nothing was recorded within the configured business days: remind the CMB manager, then the
    district Staff Sergeant.

    Attributes:
        district: the district.
        escalate_to: who is reminded.
        business_days_waiting: business days since the acknowledgement.
        due_at: when the reminder fell due.
    """

    ce_type = "ca.halton.commande.eventrequest.reminder_due.v1"

    district: Code
    escalate_to: EscalationLevel
    business_days_waiting: Annotated[int, Strict(), Field(ge=1, le=365)]
    due_at: UtcDatetime


class EventRequestCommandRefused(EventRequestEvent):
    """Intake refused a follow-up command (unknown request, already decided, wrong district...).

    Attributes:
        command_id: the refused command's ``ce_id``.
        command_type: the refused command's ``ce_type``.
        actor_agency_id: the agency that issued it.
        refused_at: when.
        reasons: every reason.
    """

    ce_type = "ca.halton.commande.eventrequest.command_refused.v1"

    command_id: AnyUuid
    command_type: Annotated[
        str, StringConstraints(strict=True, max_length=128, pattern=CE_TYPE_PATTERN)
    ]
    actor_agency_id: AgencyId
    refused_at: UtcDatetime
    reasons: tuple[Reason, ...] = Field(min_length=1, max_length=100)


class EventRequestContactPurged(EventRequestEvent):
    """Intake deleted the requester's contact details (a configured time after the event or the
    decision); consumers holding a copy delete theirs.

    Attributes:
        purged_at: when.
    """

    ce_type = "ca.halton.commande.eventrequest.contact_purged.v1"

    purged_at: UtcDatetime


__all__ = [
    "CONFIRMATION_PATH", "CONFIRMATION_PURPOSE", "DeclineEventRequest", "EventLocation",
    "EventRequestAcknowledged", "EventRequestCommand", "EventRequestCommandRefused",
    "EventRequestConfirmationRequested", "EventRequestConfirmed", "EventRequestContactPurged",
    "EventRequestDeclined", "EventRequestExpired", "EventRequestKind", "EventRequestRejected",
    "EventRequestReminderDue", "EventRequestScheduled", "EventRequestSubmitted",
    "EventRequestWithdrawn", "Requester", "ScheduleEventRequest", "TimeWindow",
    "WithdrawEventRequest", "well_formed_email",
]
