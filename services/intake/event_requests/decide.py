"""What intake answers about a community event request, given what it knows of it (pure).

State is per request id (:class:`EventRequestState`). Every function takes the state, the
submission or command and ``now``, and returns the runtime's one shape (ADR 0012):
:class:`~services.runtime.decision.Decided` (the new state with the de-identified events) or
:class:`~services.runtime.decision.Unchanged`; a command is refused by raising
:class:`~services.runtime.decision.CommandRefused`:

* :func:`decide_submission`: acknowledged (the district follows up), rejected with every reason,
  or a duplicate id (nothing changes, nothing is published); a request from the public with a
  usable address first waits for its requester to confirm that address (the answer is kept,
  de-identified, and given on confirmation);
* :func:`decide_undecodable`: a keyed submission that does not decode is rejected with the
  contract's reasons (a known id changes nothing);
* :func:`decide_confirmation`: the requester confirmed their address: the kept answer is given
  now, or nothing changes (expired, already confirmed, nothing to confirm);
* :func:`decide_command`: the CMB manager's schedule / decline / withdraw, or a refusal with
  every reason (raised; :func:`refusal` is the event it becomes);
* :func:`due_reminder`: the reminder to the CMB manager after ``reminder_business_days`` without
  a decision, then to the Staff Sergeant ``escalation_business_days`` later (once per level);
* :func:`purge_contact`: the requester's details deleted once ``contact_retention_days`` passed
  after the event (scheduled), the last preferred date (never decided) or the decision; an
  unconfirmed request expires at its confirmation deadline and its details go at once;
* :func:`decide_reminder`, :func:`decide_purge`: what the timers do with a row found due (the
  above, or no more reminders / no purge to come).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from uuid import UUID

from schemas.base import Message
from schemas.event_requests import (
    DeclineEventRequest,
    EscalationLevel,
    EventRequestAcknowledged,
    EventRequestCommand,
    EventRequestCommandRefused,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestContactPurged,
    EventRequestDeclined,
    EventRequestExpired,
    EventRequestKind,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    ScheduleEventRequest,
    WithdrawEventRequest,
    well_formed_email,
)
from schemas.free_text import FreeText, check_text
from schemas.reference import Reference
from schemas.reference.calendar import STATUTORY_HOLIDAYS, ZONE, local_date
from schemas.referrals import Reason
from services.intake.event_requests.calendar import business_deadline, end_of_local_day
from services.intake.event_requests.rules import EventChecked
from services.runtime.decision import CommandRefused, Decided, Unchanged

Status = Literal["awaiting_confirmation", "acknowledged", "rejected", "scheduled", "declined",
                 "withdrawn", "expired"]
Answer = EventRequestAcknowledged | EventRequestRejected
"""What intake answers a request: given at once, or kept until the requester confirms."""
CMB_ROLE = "cmb"

DECLINE_NOTE = FreeText(
    field="note", code_prefix="note", label="note",
    contact_advice="the requester's details stay with the CMB; the note is kept de-identified",
    name_kind="requester_name", name_what="the requester's name",
    name_advice="address the requester without it (the e-mail already greets them)",
)
SCHEDULE_NOTES = replace(DECLINE_NOTE, field="notes", code_prefix="notes")
"""The CMB's notes go to ``commande.event-requests.v1``, kept forever and read by analytics."""


@dataclass(frozen=True, slots=True)
class EventConfig:
    """Follow-up and retention settings.

    Attributes:
        reminder_business_days: business days without a decision before the CMB manager is
            reminded.
        escalation_business_days: further business days before the Staff Sergeant is.
        contact_retention_days: days the contact details are kept after the event or decision.
        holidays: observed statutory holidays (not business days).
        confirm_hours: hours a requester from the public has to confirm their address before
            the request expires and its contact is purged.
    """

    reminder_business_days: int = 3
    escalation_business_days: int = 2
    contact_retention_days: int = 30
    holidays: Container[date] = STATUTORY_HOLIDAYS
    confirm_hours: int = 48


@dataclass(frozen=True, slots=True)
class EventRequestState:
    """What intake keeps of one request (no contact details: those are in the encrypted row).

    Attributes:
        reminder_level: reminders already sent (0, 1: the manager, 2: the Staff Sergeant).
        next_reminder_at: when the next reminder falls due; ``None``: no more reminders.
        purge_after: when the contact details are due for deletion (an unconfirmed request's
            confirmation deadline); ``None``: nothing to purge.
        confirm_expires_at: the deadline of a request awaiting its requester's confirmation.
        confirmed_at: when the requester confirmed their address (``None``: not asked, or not
            yet).
        pending: the answer kept for the confirmation (de-identified), while awaiting it.
    """

    request_id: UUID
    status: Status
    answered_at: datetime
    kind: EventRequestKind | None = None
    municipality: str | None = None
    district: str | None = None
    agency_id: str | None = None
    last_preferred_date: date | None = None
    decided_at: datetime | None = None
    scheduled_date: date | None = None
    reminder_level: int = 0
    next_reminder_at: datetime | None = None
    has_contact: bool = False
    purge_after: datetime | None = None
    purged_at: datetime | None = None
    confirm_expires_at: datetime | None = None
    confirmed_at: datetime | None = None
    pending: Answer | None = None


Decision = Decided[EventRequestState, Message]
"""A request's new state and the events to publish (the runtime's :class:`Decided`)."""


def _retained(moment: datetime, config: EventConfig) -> datetime:
    return moment + timedelta(days=config.contact_retention_days)


def confirmation_address(event: EventRequestSubmitted) -> str | None:
    """The address the requester must first confirm, or ``None`` when nothing is to confirm: a
    request from the public (no agency token) with an address one can write to needs it. Without
    a usable address there is nobody to ask, and the request is rejected at once
    (``email_missing`` / ``email_malformed``), mailed to nobody."""
    email = event.requester.email if event.requester is not None else None
    usable = email is not None and well_formed_email(email)
    return email if event.agency_id is None and usable else None


def needs_confirmation(event: EventRequestSubmitted) -> bool:
    """Whether the requester must first confirm their address (:func:`confirmation_address`)."""
    return confirmation_address(event) is not None


def decide_submission(state: EventRequestState | None, event: EventRequestSubmitted,
                      checked: EventChecked, now: datetime, config: EventConfig,
                      *, has_contact: bool) -> Decision | Unchanged:
    """Acknowledge or reject a submission, or ask its requester to confirm their address first;
    a known request id changes nothing.

    Args:
        state: what is known of ``event.request_id`` (``None``: new).
        event: the submission.
        checked: the outcome of :func:`services.intake.event_requests.rules.check`.
        now: the service's clock.
        config: follow-up and retention settings.
        has_contact: whether there is anything identifying to keep (and later purge).
    """
    if state is not None:
        return Unchanged("duplicate_request_id")
    last = max((w.date for w in event.windows), default=None)
    base = EventRequestState(
        request_id=event.request_id, status="rejected", answered_at=now, kind=event.kind,
        municipality=checked.municipality, district=checked.district, agency_id=event.agency_id,
        last_preferred_date=last, has_contact=has_contact)
    answer = _answer(event, checked, now)
    if needs_confirmation(event):
        expires = now + timedelta(hours=config.confirm_hours)
        asked = EventRequestConfirmationRequested(
            request_id=event.request_id, requested_at=now, expires_at=expires, kind=event.kind,
            municipality=checked.municipality, district=checked.district, windows=event.windows)
        return Decided(replace(base, status="awaiting_confirmation", confirm_expires_at=expires,
                               purge_after=expires, pending=answer), (asked,))
    return Decided(_answered(base, answer, now, config), (answer,))


def decide_undecodable(state: EventRequestState | None, request_id: UUID,
                       reasons: Sequence[Reason], now: datetime) -> Decision | Unchanged:
    """A submission that does not decode, keyed by a new request id, is rejected with the
    contract's ``reasons`` (so a Kafka submitter and the statistics learn of it); a known id
    changes nothing.

    Args:
        state: what is known of ``request_id`` (``None``: new).
        request_id: the record's key.
        reasons: why it does not decode (:func:`services.intake.handlers.contract_reasons`).
        now: the service's clock.
    """
    if state is not None:
        return Unchanged("duplicate_request_id")
    rejected = EventRequestRejected(request_id=request_id, rejected_at=now,
                                    reasons=tuple(reasons))
    return Decided(EventRequestState(request_id=request_id, status="rejected", answered_at=now,
                                     decided_at=now), (rejected,))


def _answer(event: EventRequestSubmitted, checked: EventChecked, now: datetime) -> Answer:
    """The de-identified answer to a submission (the rules decided it)."""
    if not checked.ok or checked.district is None or checked.municipality is None:
        return EventRequestRejected(
            request_id=event.request_id, rejected_at=now, reasons=checked.reasons[:100],
            earliest_acceptable_date=checked.earliest_acceptable_date, kind=event.kind,
            municipality=checked.municipality, district=checked.district)
    assert event.kind is not None
    assert event.expected_attendees is not None
    return EventRequestAcknowledged(
        request_id=event.request_id, district=checked.district,
        municipality=checked.municipality, kind=event.kind, windows=event.windows,
        topics=event.topics, expected_attendees=event.expected_attendees,
        organization_request=event.agency_id is not None, acknowledged_at=now)


def _answered(state: EventRequestState, answer: Answer, now: datetime,
              config: EventConfig) -> EventRequestState:
    """The state once ``answer`` is given at ``now``: a rejection is decided (its contact kept
    ``contact_retention_days``), an acknowledgement waits for the CMB (reminders on, its
    contact kept until after the last preferred date)."""
    state = replace(state, answered_at=now, pending=None, confirm_expires_at=None)
    if isinstance(answer, EventRequestRejected):
        return replace(state, status="rejected", decided_at=now,
                       purge_after=_retained(now, config) if state.has_contact else None)
    last = state.last_preferred_date
    assert last is not None
    return replace(
        state, status="acknowledged",
        next_reminder_at=business_deadline(now, config.reminder_business_days, config.holidays),
        purge_after=_retained(end_of_local_day(last), config) if state.has_contact else None)


def decide_confirmation(state: EventRequestState | None, now: datetime,
                        config: EventConfig) -> Decision | Unchanged:
    """The requester confirmed their address (a ``POST`` on the link mailed to it).

    A request awaiting confirmation before its deadline is confirmed and answered now: the kept
    answer (acknowledgement or rejection) is published with ``now`` as its time, so reminders
    count from the confirmation. A rejected request can be confirmed too: its requester then
    gets the reasons by e-mail, as an organization does.

    Returns:
        :class:`Decided` (``EventRequestConfirmed`` then the answer), or :class:`Unchanged` with
        ``unknown_request``, ``confirmation_expired``, ``already_confirmed`` or
        ``no_confirmation_needed`` (an organization's request, or one without a usable address).
    """
    if state is None:
        return Unchanged("unknown_request")
    if state.status == "expired" or (
            state.status == "awaiting_confirmation"
            and (state.confirm_expires_at is None or now >= state.confirm_expires_at)):
        return Unchanged("confirmation_expired")
    if state.status != "awaiting_confirmation" or state.pending is None:
        return Unchanged("already_confirmed" if state.confirmed_at is not None
                         else "no_confirmation_needed")
    answer: Answer
    if isinstance(state.pending, EventRequestAcknowledged):
        answer = state.pending.model_copy(update={"acknowledged_at": now})
    else:
        answer = state.pending.model_copy(update={"rejected_at": now})
    confirmed = EventRequestConfirmed(request_id=state.request_id, confirmed_at=now)
    new = _answered(replace(state, confirmed_at=now), answer, now, config)
    return Decided(new, (confirmed, answer))


def decide_command(state: EventRequestState | None, command: EventRequestCommand, *,
                   district_cmb: str | None, reference: Reference, now: datetime,
                   config: EventConfig, names: Iterable[str] = ()) -> Decision:
    """Apply a CMB follow-up command, or refuse it with every reason.

    Args:
        state: the request (``None``: unknown id).
        command: schedule, decline or withdraw.
        district_cmb: the agency id of the police CMB of the request's district (from the
            directory, today), or ``None``.
        reference: officer roles and reason codes.
        now: the service's clock.
        config: retention settings.
        names: the requester's name, which a note must not carry (it outlives the purge).

    Raises:
        CommandRefused: with every reason (the shell publishes it as :func:`refusal`).
    """
    reasons: list[Reason] = []
    if command.actor.role != CMB_ROLE:
        reasons.append(Reason(code="actor_not_cmb", field="actor.role", message=(
            "Only the district's Community Mobilization Bureau (actor role cmb) follows up "
            "community event requests.")))
    reasons.extend(_state_reasons(state, command, district_cmb))
    reasons.extend(_command_reasons(command, reference, now))
    reasons.extend(_note_reasons(command, names))
    if reasons:
        raise CommandRefused(*reasons)
    assert state is not None  # an unknown id is refused (request_unknown)
    assert state.district is not None
    event: Message
    if isinstance(command, ScheduleEventRequest):
        event = EventRequestScheduled(
            request_id=command.request_id, district=state.district, date=command.date,
            start=command.start, officer_role=command.officer_role, notes=command.notes,
            scheduled_at=now)
        last = max(command.date, state.last_preferred_date or command.date)
        new = replace(state, status="scheduled", decided_at=now, scheduled_date=command.date,
                      next_reminder_at=None)
        new = replace(new, purge_after=_retained(end_of_local_day(last), config)
                      if _keeps(state) else None)
    elif isinstance(command, DeclineEventRequest):
        event = EventRequestDeclined(
            request_id=command.request_id, district=state.district, reason=command.reason,
            note=command.note, declined_at=now)
        new = replace(state, status="declined", decided_at=now, next_reminder_at=None,
                      purge_after=_retained(now, config) if _keeps(state) else None)
    else:
        assert isinstance(command, WithdrawEventRequest)
        event = EventRequestWithdrawn(
            request_id=command.request_id, district=state.district, reason=command.reason,
            withdrawn_at=now)
        new = replace(state, status="withdrawn", decided_at=now, next_reminder_at=None,
                      purge_after=_retained(now, config) if _keeps(state) else None)
    return Decided(new, (event,))


def refusal(error: CommandRefused, command: EventRequestCommand, command_id: UUID,
            now: datetime) -> EventRequestCommandRefused:
    """The ``EventRequestCommandRefused`` for a refused command (``command_id`` is its
    ``ce_id``), naming the agency refused and every reason (at most 100)."""
    return EventRequestCommandRefused(
        request_id=command.request_id, command_id=command_id, command_type=command.ce_type,
        actor_agency_id=command.actor.agency_id, refused_at=now, reasons=error.reasons[:100])


def _keeps(state: EventRequestState) -> bool:
    """Whether contact details are still held (so a purge is still to come)."""
    return state.has_contact and state.purged_at is None


def _state_reasons(state: EventRequestState | None, command: EventRequestCommand,
                   district_cmb: str | None) -> list[Reason]:
    if state is None:
        return [Reason(code="request_unknown", field="request_id",
                       message="No community event request has this id.")]
    reasons: list[Reason] = []
    if state.status == "awaiting_confirmation":
        reasons.append(Reason(code="request_unconfirmed", field="request_id", message=(
            "The requester has not confirmed their e-mail address yet; the request is followed "
            "up once they do.")))
    elif state.status == "expired":
        reasons.append(Reason(code="request_expired", field="request_id", message=(
            "The requester never confirmed their e-mail address and the request expired; ask "
            "them to submit a new request.")))
    elif state.status == "rejected":
        reasons.append(Reason(code="request_rejected", field="request_id", message=(
            "This request was rejected at intake; there is nothing to follow up.")))
    elif state.status != "acknowledged" and not (
            isinstance(command, WithdrawEventRequest) and state.status == "scheduled"):
        reasons.append(Reason(code="request_already_decided", field="request_id", message=(
            f"This request is already {state.status}; only a scheduled request can still be "
            "withdrawn.")))
    elif state.status == "acknowledged" and state.purged_at is not None:
        reasons.append(Reason(code="request_expired", field="request_id", message=(
            "The preferred dates passed long ago and the requester's details were deleted; "
            "ask the requester to submit a new request.")))
    if state.district is not None and (district_cmb is None
                                       or district_cmb != command.actor.agency_id):
        reasons.append(Reason(code="actor_not_district_cmb", field="actor.agency_id", message=(
            f"This request is followed up by the {state.district} Community Mobilization "
            "Bureau; only that agency may record its outcome.")))
    return reasons


def _command_reasons(command: EventRequestCommand, reference: Reference,
                     now: datetime) -> list[Reason]:
    reasons: list[Reason] = []
    if isinstance(command, ScheduleEventRequest):
        roles = reference.codes("event_officer_roles")
        if command.officer_role not in roles:
            reasons.append(Reason(code="officer_role_unknown", field="officer_role", message=(
                f"Unknown officer role; use one of {', '.join(sorted(roles))}.")))
        start = datetime.combine(command.date, _naive(command.start), tzinfo=ZONE)
        if start <= now:
            reasons.append(Reason(code="date_in_past", field="date", message=(
                f"The date and time are in the past (today is {local_date(now).isoformat()} "
                "in Halton); schedule a future date.")))
    elif isinstance(command, DeclineEventRequest):
        codes = reference.codes("event_decline_reasons")
        if command.reason not in codes:
            reasons.append(Reason(code="decline_reason_unknown", field="reason", message=(
                f"Unknown decline reason; use one of {', '.join(sorted(codes))}.")))
    elif isinstance(command, WithdrawEventRequest):
        codes = reference.codes("event_withdrawal_reasons")
        if command.reason not in codes:
            reasons.append(Reason(code="withdrawal_reason_unknown", field="reason", message=(
                f"Unknown withdrawal reason; use one of {', '.join(sorted(codes))}.")))
    return reasons


def _note_reasons(command: EventRequestCommand, names: Iterable[str]) -> list[Reason]:
    if isinstance(command, ScheduleEventRequest) and command.notes is not None:
        return check_text(command.notes, SCHEDULE_NOTES, names)
    if isinstance(command, DeclineEventRequest) and command.note is not None:
        return check_text(command.note, DECLINE_NOTE, names)
    return []


def _naive(moment: time) -> time:
    return moment.replace(tzinfo=None)


def due_reminder(state: EventRequestState, now: datetime,
                 config: EventConfig) -> Decision | None:
    """The next reminder if it fell due by ``now`` (at most one level per call), else ``None``."""
    due = state.next_reminder_at
    if state.status != "acknowledged" or due is None or due > now or state.reminder_level >= 2:
        return None
    assert state.district is not None
    level = state.reminder_level + 1
    escalate_to: EscalationLevel = "cmb_manager" if level == 1 else "staff_sergeant"
    waiting = config.reminder_business_days + (config.escalation_business_days if level == 2 else 0)
    following = (business_deadline(due, config.escalation_business_days, config.holidays)
                 if level == 1 else None)
    reminder = EventRequestReminderDue(
        request_id=state.request_id, district=state.district, escalate_to=escalate_to,
        business_days_waiting=max(waiting, 1), due_at=due)
    return Decided(replace(state, reminder_level=level, next_reminder_at=following), (reminder,))


def purge_contact(state: EventRequestState, now: datetime) -> Decision | None:
    """Delete the contact details once due; ``None`` when not due or nothing is held.

    A request still awaiting its requester's confirmation at its deadline expires: it is never
    answered, and its contact goes at once (``EventRequestExpired``, then
    ``EventRequestContactPurged`` so that notifier deletes its copy)."""
    if state.purge_after is None or state.purge_after > now:
        return None
    if state.status == "awaiting_confirmation":
        expired = EventRequestExpired(request_id=state.request_id, expired_at=now,
                                      district=state.district)
        keeps = _keeps(state)
        purged = (EventRequestContactPurged(request_id=state.request_id, purged_at=now),)
        return Decided(replace(state, status="expired", decided_at=now, pending=None,
                               purge_after=None, purged_at=now if keeps else None),
                       (expired, *(purged if keeps else ())))
    if not _keeps(state):
        return None
    return Decided(replace(state, purged_at=now, purge_after=None),
                   (EventRequestContactPurged(request_id=state.request_id, purged_at=now),))


def decide_reminder(state: EventRequestState, now: datetime, config: EventConfig) -> Decision:
    """What a request the store found with a reminder due by ``now`` becomes: its next reminder
    (:func:`due_reminder`), or, when none is to come (no longer acknowledged, or both levels
    sent), no more reminders and nothing to publish."""
    return due_reminder(state, now, config) or Decided(replace(state, next_reminder_at=None), ())


def decide_purge(state: EventRequestState, now: datetime) -> Decision:
    """What a request the store found with its purge due by ``now`` becomes: its contact
    deleted, or its expiry (:func:`purge_contact`; the contact goes whenever there are events),
    or, with nothing (more) to purge, no purge to come and nothing to publish."""
    return purge_contact(state, now) or Decided(replace(state, purge_after=None), ())
