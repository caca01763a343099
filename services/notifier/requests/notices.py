"""Community event requests (pure): who is told what, and the rendered notices.

Rules:

* ``EventRequestConfirmationRequested``: the requester (a member of the public) gets a link to
  confirm the address they gave (``event_request_confirmation``), a fixed text naming only the
  request id, the district, the preferred dates and times as intake read them, the deadline and
  the link: nothing the requester wrote (no name, venue, topics or notes), because the address
  is not known to be theirs yet. Intake sends nothing else about a request from the public until
  its address is confirmed;
* ``EventRequestAcknowledged``: the district CMB's ``cmb_manager`` role address gets everything
  needed to call back (``event_request``); the requester gets an acknowledgement with the
  request id and the district that will follow up (``event_request_acknowledgement``);
* ``EventRequestRejected``: the requester gets every reason and, when the notice was too short,
  the earliest acceptable date (``event_request_outcome``);
* ``EventRequestReminderDue``: the CMB manager, or the district Staff Sergeant when escalated,
  gets the request again with how long it has waited (``event_request_reminder``);
* ``EventRequestScheduled`` / ``Declined`` / ``Withdrawn``: the requester is told
  (``event_request_outcome``).

Every one of them needs the submission (the only record of the requester's details): the shell
renders them only once it has it, and stores the result sealed (:mod:`services.notifier.contacts`).
The requester is addressed as the reserved agency :data:`PUBLIC_REQUESTER`; the notice row's
address is a placeholder naming the request, the e-mail travels in the sealed payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any, Final
from uuid import UUID

from directory import Channel, ContactRole, Directory
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestConfirmationRequested,
    EventRequestDeclined,
    EventRequestEvent,
    EventRequestKind,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    TimeWindow,
    well_formed_email,
)
from schemas.notices import PUBLIC_REQUESTER, NoticeKind
from schemas.reference import Reference
from services.notifier.model import Planned, Privacy, Recipient, Rendered
from services.notifier.render import Context, environment, labels

NOTIFIABLE = (EventRequestConfirmationRequested, EventRequestAcknowledged, EventRequestRejected,
              EventRequestReminderDue, EventRequestScheduled, EventRequestDeclined,
              EventRequestWithdrawn)
"""The de-identified facts that cause notices (refusals, confirmations, expiries and purges do
not)."""

REQUESTER: Final = "requester"

KIND_WORDS: Mapping[EventRequestKind, str] = {
    "speaker": "an officer to speak",
    "district_tour": "a district station tour",
    "event_participation": "the Service's participation at a community event",
}

SCHEDULE_COMMAND = ("commande event-request schedule {id} --date YYYY-MM-DD --start HH:MM "
                    "--officer-role community_safety_officer --agency {agency} --notes \"...\"")
DECLINE_COMMAND = ("commande event-request decline {id} --reason no_capacity --agency {agency} "
                   "--note \"...\"")
WITHDRAW_COMMAND = ("commande event-request withdraw {id} --reason no_longer_needed "
                    "--agency {agency}")
"""How the manager records the follow-up (``services/cli/event_request_cmd.py``); shown in the
manager's notices."""


def requester_recipient(request_id: UUID) -> Recipient:
    """The requester of ``request_id``: the placeholder address names the request, never them."""
    return Recipient(PUBLIC_REQUESTER, REQUESTER, Channel.EMAIL, f"event-request:{request_id}")


def requester_email(submission: EventRequestSubmitted) -> str | None:
    """The requester's e-mail when it is usable as an address (the same test intake's rules
    apply: an address they reject is never written to), else ``None``."""
    email = (submission.requester.email or "").strip() if submission.requester else ""
    return email if well_formed_email(email) else None


def _cmb(directory: Directory, district: str, role: ContactRole, kind: NoticeKind,
         on: date) -> list[Planned]:
    cmb = directory.cmb(district, on)
    if cmb is None:
        return []
    return [Planned(kind, Recipient(cmb.agency_id, c.role, c.channel, c.address),
                    Privacy.IDENTIFIED, essential=True)
            for c in cmb.contacts_for(role)]


def plan(event: EventRequestEvent, directory: Directory, on: date) -> list[Planned]:
    """Every notice ``event`` calls for (empty for facts that notify nobody)."""
    to_requester = Planned("event_request_outcome", requester_recipient(event.request_id),
                           Privacy.IDENTIFIED, essential=True)
    if isinstance(event, EventRequestConfirmationRequested):
        return [Planned("event_request_confirmation", to_requester.recipient, Privacy.IDENTIFIED,
                        essential=True)]
    if isinstance(event, EventRequestAcknowledged):
        return [*_cmb(directory, event.district, ContactRole.CMB_MANAGER, "event_request", on),
                Planned("event_request_acknowledgement", to_requester.recipient,
                        Privacy.IDENTIFIED, essential=True)]
    if isinstance(event, EventRequestReminderDue):
        role = (ContactRole.CMB_MANAGER if event.escalate_to == "cmb_manager"
                else ContactRole.STAFF_SERGEANT)
        return _cmb(directory, event.district, role, "event_request_reminder", on)
    if isinstance(event, EventRequestRejected | EventRequestScheduled | EventRequestDeclined
                  | EventRequestWithdrawn):
        return [to_requester]
    return []


# -- rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a request's notices say besides the event: the submission and the district's CMB."""

    submission: EventRequestSubmitted
    district: str | None
    municipality: str | None
    """A Halton municipality code, when the de-identified facts give one."""
    windows: tuple[TimeWindow, ...]
    topics: tuple[str, ...]
    attendees: int | None


def _terms(ref: Reference, name: str) -> dict[str, str]:
    """Code -> name of a reference term list (empty when the list is not loaded)."""
    items: Iterable[Any] = getattr(ref, name, ())
    return {str(t.code): str(t.name) for t in items}


def words(code: str, names: Mapping[str, str]) -> str:
    """A code in words: its reference name, else the code with spaces."""
    return names.get(code, code.replace("_", " ").capitalize())


def local_day(day: date) -> str:
    """``Tuesday 10 March 2026``."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def hhmm(at: time) -> str:
    """``18:30``."""
    return f"{at:%H:%M}"


def window_words(w: TimeWindow) -> str:
    """``Tuesday 10 March 2026, 18:30 to 20:00``."""
    return f"{local_day(w.date)}, {hhmm(w.start)} to {hhmm(w.end)}"


_STEMS: Mapping[NoticeKind, str] = {
    "event_request": "event_request_cmb", "event_request_reminder": "event_request_cmb",
    "event_request_acknowledgement": "event_request_ack",
    "event_request_outcome": "event_request_outcome",
}


def subject(planned: Planned, event: EventRequestEvent, district_name: str) -> str:
    """The subject line: what happened, the district, the request id; never the requester."""
    rid = event.request_id
    if planned.kind == "event_request":
        return f"Community event request {rid}: new request for {district_name}"
    if planned.kind == "event_request_reminder":
        level = "Escalation" if planned.recipient.role is ContactRole.STAFF_SERGEANT else "Reminder"
        return f"{level}: community event request {rid} waits for follow-up ({district_name})"
    if planned.kind == "event_request_acknowledgement":
        return f"Your community event request {rid} was received"
    if planned.kind == "event_request_confirmation":
        return f"Confirm your community event request {rid}"
    if isinstance(event, EventRequestRejected):
        return f"Your community event request {rid} could not be accepted"
    if isinstance(event, EventRequestScheduled):
        return f"Your community event request {rid} is scheduled"
    if isinstance(event, EventRequestDeclined):
        return f"Your community event request {rid} was declined"
    return f"Your community event request {rid} was withdrawn"


def render(planned: Planned, event: EventRequestEvent, facts: RequestFacts, ctx: Context,
           ref: Reference, directory: Directory, on: date) -> Rendered:
    """The notice ``planned`` for ``event``, with the request's facts."""
    label = labels(ref)
    s = facts.submission
    district = facts.district
    cmb = directory.cmb(district, on) if district else None
    manager = cmb.contacts_for(ContactRole.CMB_MANAGER) if cmb else ()
    district_name = label("district", district) if district else "the District"
    agency = cmb.agency_id if cmb else "AGENCY"
    topic_names = _terms(ref, "event_topics")
    municipality = (label("municipality", facts.municipality) if facts.municipality
                    else (s.location.municipality if s.location else None))
    values: dict[str, Any] = {
        "e": event, "s": s, "p": planned, "ctx": ctx, "label": label,
        "recipient_name": cmb.name if cmb else planned.recipient.agency_id,
        "district_name": district_name, "district": district,
        "cmb_name": cmb.name if cmb else None,
        "cmb_address": manager[0].address if manager else None,
        "kind_words": KIND_WORDS.get(s.kind, "") if s.kind else "",
        "windows": [window_words(w) for w in facts.windows or s.windows],
        "municipality": municipality,
        "venue": s.location.address_or_venue if s.location else None,
        "topics": [words(t, topic_names) for t in facts.topics or s.topics],
        "r": s.requester, "attendees": facts.attendees,
        "schedule_command": SCHEDULE_COMMAND.format(id=event.request_id, agency=agency),
        "decline_command": DECLINE_COMMAND.format(id=event.request_id, agency=agency),
        "withdraw_command": WITHDRAW_COMMAND.format(id=event.request_id, agency=agency),
        "escalated": planned.recipient.role is ContactRole.STAFF_SERGEANT,
        "local_day": local_day, "hhmm": hhmm,
        "officer": (words(event.officer_role, _terms(ref, "event_officer_roles"))
                    if isinstance(event, EventRequestScheduled) else None),
        "reason": (words(event.reason, _terms(ref, "event_decline_reasons"))
                   if isinstance(event, EventRequestDeclined)
                   else words(event.reason, _terms(ref, "event_withdrawal_reasons"))
                   if isinstance(event, EventRequestWithdrawn) else None),
    }
    stem = _STEMS[planned.kind]
    env = environment()
    text = env.get_template(f"{stem}.txt.j2").render(values)
    html = env.get_template(f"{stem}.html.j2").render(values)
    title = subject(planned, event, district_name)
    body: dict[str, Any] = {
        "notice_id": str(ctx.notice_id), "kind": planned.kind, "privacy": planned.privacy.value,
        "recipient_agency": planned.recipient.agency_id, "subject": title, "text": text,
        "ack_url": ctx.ack_url, "ack_expires_at": ctx.ack_expires_at.isoformat(),
        "event_type": event.ce_type, "event": event.model_dump(mode="json"),
    }
    if planned.recipient.agency_id != PUBLIC_REQUESTER:
        body["request"] = s.model_dump(mode="json")
    return Rendered(subject=title, text=text, html=html, body=body)


def render_confirmation(planned: Planned, event: EventRequestConfirmationRequested, ctx: Context,
                        link: str, ref: Reference) -> Rendered:
    """The e-mail asking a requester to confirm their address: a fixed text with the request id,
    the district, the preferred dates and times as intake read them, the deadline and ``link``.

    It is rendered from the de-identified fact alone, never from the submission: nothing the
    requester wrote (name, organization, venue, topics, notes) can reach an address nobody has
    confirmed yet."""
    label = labels(ref)
    district_name = label("district", event.district) if event.district else "the District"
    values: dict[str, Any] = {
        "e": event, "ctx": ctx, "district": event.district, "district_name": district_name,
        "windows": [window_words(w) for w in event.windows], "link": link,
    }
    env = environment()
    text = env.get_template("event_request_confirm.txt.j2").render(values)
    html = env.get_template("event_request_confirm.html.j2").render(values)
    title = subject(planned, event, district_name)
    body: dict[str, Any] = {
        "notice_id": str(ctx.notice_id), "kind": planned.kind, "privacy": planned.privacy.value,
        "recipient_agency": planned.recipient.agency_id, "subject": title, "text": text,
        "event_type": event.ce_type, "event": event.model_dump(mode="json"),
    }
    return Rendered(subject=title, text=text, html=html, body=body)


def facts_for(event: EventRequestEvent, submission: EventRequestSubmitted) -> RequestFacts:
    """The facts to render ``event`` with: the district and municipality of the de-identified
    event when it names them (intake resolved them), windows and topics of the acknowledgement
    (intake's checked copy), else the submission's."""
    district: str | None = getattr(event, "district", None)
    municipality: str | None = getattr(event, "municipality", None)
    if isinstance(event, EventRequestAcknowledged):
        return RequestFacts(submission, district, municipality, event.windows, event.topics,
                            event.expected_attendees)
    return RequestFacts(submission, district, municipality, submission.windows, submission.topics,
                        submission.expected_attendees)
