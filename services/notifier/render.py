"""Rendering notices (pure): plain text, HTML and a webhook body from one event and one recipient.

Templates live in ``templates/`` (Jinja2; HTML autoescaped, undefined names are errors). Subject
lines are built here from a fixed set of safe parts: the kind, a district name, a local date and
an opaque id. No identifying data and no risk detail ever goes into a subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from directory import TIMEZONE, Directory
from schemas.base import Actor, Message
from schemas.disclosures import DisclosureSealed
from schemas.meetings import AgendaIssued, CommandRejected, UrgentSituationAdded
from schemas.reference import Reference
from schemas.reference.labels import reference_names
from schemas.referrals import ReferralRejected
from schemas.situations import (
    AgenciesAssigned,
    IdentityPurged,
    SituationConcluded,
    SlaBreached,
    SlaWarning,
)
from services.notifier.model import Attachment, MeetingInfo, Planned, Privacy, Rendered

TEMPLATES = Path(__file__).with_name("templates")
_ZONE = ZoneInfo(TIMEZONE)


@dataclass(frozen=True, slots=True)
class Context:
    """What a notice needs besides its event: its id, its ack link, and looked-up facts."""

    notice_id: UUID
    ack_url: str
    ack_expires_at: datetime
    meeting: MeetingInfo | None = None
    actor: Actor | None = None
    response_hours: int = 24
    first_contact_hours: int = 48
    console_url: str | None = None
    """The table console's page where the reader acts on it (:mod:`services.notifier.links`)."""


@cache
def environment() -> Environment:
    """The templates' one Jinja2 environment (every notice, event requests' too, renders here)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates ship with the code: compiled once, never stat()ed again
    )
    env.filters["local"] = local_time
    return env


def local_time(moment: datetime) -> str:
    """``Tuesday 13 January 2026, 09:30`` in Halton's time zone."""
    at = moment.astimezone(_ZONE)
    return f"{at:%A} {at.day} {at:%B %Y, %H:%M} ({at.tzname()})"


def _local_date(moment: datetime) -> str:
    at = moment.astimezone(_ZONE)
    return f"{at.day} {at:%B %Y}"


class Labels:
    """Display names from reference data (codes shown as-is when unknown)."""

    def __init__(self, ref: Reference) -> None:
        self._names = reference_names(ref)

    def __call__(self, kind: str, code: str) -> str:
        return self._names[kind].get(code, code)


_LABELS: dict[int, tuple[Reference, Labels]] = {}


def labels(ref: Reference) -> Labels:
    """Labels of ``ref``, built once per Reference object (it is not hashable)."""
    found = _LABELS.get(id(ref))
    if found is None or found[0] is not ref:
        found = (ref, Labels(ref))
        _LABELS[id(ref)] = found
    return found[1]


def _name(directory: Directory, agency_id: str) -> str:
    """The organization's name, or the slug when the directory does not know it."""
    org = directory.organization(agency_id)
    return org.name if org else agency_id


def subject(planned: Planned, event: Message, ctx: Context, ref: Reference) -> str:
    """The subject line: kind, district, date, opaque id; nothing else."""
    label = labels(ref)
    if isinstance(event, AgendaIssued):
        where = label("district", ctx.meeting.district) if ctx.meeting else "District table"
        when = f", {_local_date(ctx.meeting.starts_at)}" if ctx.meeting else ""
        if event.kind == "first":
            return f"COMMANDE Table invitation and agenda: {where}{when}"
        return f"COMMANDE Table agenda update (revision {event.revision}): {where}{when}"
    if isinstance(event, UrgentSituationAdded):
        where = label("district", event.meeting.district)
        return (f"COMMANDE urgent situation added: {where}, meeting of "
                f"{_local_date(event.meeting.starts_at)}")
    if isinstance(event, AgenciesAssigned):
        return f"COMMANDE assignment ({planned.part} agency): situation {event.situation_id}"
    if isinstance(event, DisclosureSealed):
        return f"COMMANDE sealed disclosure: situation {event.situation_id}"
    if isinstance(event, SlaWarning):
        return f"COMMANDE response window closing: situation {event.situation_id}"
    if isinstance(event, SlaBreached):
        return f"COMMANDE escalation, response window passed: situation {event.situation_id}"
    if isinstance(event, SituationConcluded):
        return f"COMMANDE situation concluded: situation {event.situation_id}"
    if isinstance(event, CommandRejected):
        return f"COMMANDE command not accepted: {event.target} {event.target_id}"
    if isinstance(event, ReferralRejected):
        if any(r.code.startswith("referral_ref_") for r in event.reasons):
            return "COMMANDE referral not accepted"  # its reference itself was refused: not here
        return f"COMMANDE referral not accepted: reference {event.referral_ref}"
    if isinstance(event, IdentityPurged):
        return f"COMMANDE identity purged after inactivity: situation {event.situation_id}"
    raise TypeError(f"no notice for {type(event).__name__}")


_TEMPLATE = {
    AgendaIssued: "agenda", UrgentSituationAdded: "urgent_situation",
    AgenciesAssigned: "assignment", DisclosureSealed: "disclosure",
    SlaWarning: "sla", SlaBreached: "sla", SituationConcluded: "conclusion",
    CommandRejected: "command_rejected", ReferralRejected: "referral_rejected",
    IdentityPurged: "identity_purged",
}


def render(planned: Planned, event: Message, ctx: Context, ref: Reference,
           directory: Directory) -> Rendered:
    """The notice ``planned`` for ``event``, at ``planned.privacy``."""
    stem = _TEMPLATE.get(type(event))
    if stem is None:
        raise TypeError(f"no notice for {type(event).__name__}")
    values: dict[str, Any] = {
        "e": event, "p": planned, "ctx": ctx, "label": labels(ref),
        "recipient_name": _name(directory, planned.recipient.agency_id),
        "agency": lambda slug: _name(directory, slug),
        "deidentified": planned.privacy is Privacy.DEIDENTIFIED,
    }
    if isinstance(event, AgenciesAssigned):
        values["respond_by"] = event.assigned_at + timedelta(hours=ctx.response_hours)
        values["contact_by"] = event.assigned_at + timedelta(hours=ctx.first_contact_hours)
    env = environment()
    text = env.get_template(f"{stem}.txt.j2").render(values)
    html = env.get_template(f"{stem}.html.j2").render(values)
    title = subject(planned, event, ctx, ref)
    attachments: tuple[Attachment, ...] = ()
    if isinstance(event, DisclosureSealed):
        # the whole package: the sealed box with intake's signature of it and of its audit
        # record, which the recipient's opener verifies (commande intake disclosure open)
        attachments = (
            Attachment(f"disclosure-{event.disclosure_id}.json", "application/json",
                       event.model_dump_json().encode()),
        )
    body: dict[str, Any] = {
        "notice_id": str(ctx.notice_id), "kind": planned.kind, "privacy": planned.privacy.value,
        "recipient_agency": planned.recipient.agency_id, "subject": title, "text": text,
        "ack_url": ctx.ack_url, "ack_expires_at": ctx.ack_expires_at.isoformat(),
        "console_url": ctx.console_url, "event_type": event.ce_type, "event": event.model_dump(mode="json"),
    }
    if ctx.meeting is not None:
        body["meeting"] = {"district": ctx.meeting.district, "kind": ctx.meeting.kind,
                           "starts_at": ctx.meeting.starts_at.isoformat(),
                           "ends_at": ctx.meeting.ends_at.isoformat(), "venue": ctx.meeting.venue}
    return Rendered(subject=title, text=text, html=html, body=body, attachments=attachments)
