"""Who gets which notice, at which privacy level (pure: the directory and ``on`` are passed in).

Rules:

* agendas (``AgendaIssued``) go to the participant's table representative, de-identified; the
  first issue is the *invitation* (essential), later revisions are *agenda* updates
  (non-essential: an opted-out contact does not get them);
* an urgent situation added to a meeting (``UrgentSituationAdded``) goes to the chair's agency's
  Community Engagement Team (else its table representative), de-identified, at once;
* assignments go to the lead and each assisting agency's table representative;
* a sealed disclosure goes to the recipient agency's ``disclosures`` contact (else its table
  representative), as the sealed box only;
* an ``SlaWarning`` or ``SlaBreached`` goes to the district CMB's Staff Sergeant role address;
  a warning also reminds the agency expected to act (non-essential);
* a conclusion goes to the originating agency's intake contact (else its table representative);
* a refused command goes to the agency that issued it (a chair's to the CMB's chair address);
* a ``ReferralRejected`` copy goes by e-mail to the intake contacts that asked for one.

Unknown agencies get nothing (the caller logs it); opt-outs only ever drop non-essential notices.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from directory import Channel, ContactRole, Directory, RoleContact
from schemas.base import Actor
from schemas.disclosures import DisclosureSealed
from schemas.meetings import AgendaIssued, CommandRejected, UrgentSituationAdded
from schemas.notices import NoticeKind
from schemas.referrals import ReferralRejected
from schemas.situations import (
    AgenciesAssigned,
    IdentityPurged,
    SituationConcluded,
    SlaBreached,
    SlaWarning,
)
from services.notifier.model import Planned, Privacy, Recipient


def _contacts(directory: Directory, agency: str, *roles: ContactRole) -> tuple[RoleContact, ...]:
    """The contacts of the first role in ``roles`` that the agency has."""
    for role in roles:
        found = directory.contacts(agency, role)
        if found:
            return found
    return ()


def _plan(agency: str, contacts: Iterable[RoleContact], kind: NoticeKind, privacy: Privacy,
          *, essential: bool, part: str | None = None) -> list[Planned]:
    out: list[Planned] = []
    for c in contacts:
        if not essential and c.preferences.opt_out_non_essential:
            continue
        out.append(Planned(kind, Recipient(agency, c.role, c.channel, c.address), privacy,
                           essential, part))
    return out


def for_agenda(event: AgendaIssued, directory: Directory) -> list[Planned]:
    """The participant's invitation (revision 1) or agenda update."""
    first = event.revision == 1
    contacts = _contacts(directory, event.agency_id, ContactRole.TABLE_REPRESENTATIVE,
                         ContactRole.COMMUNITY_ENGAGEMENT_TEAM)
    return _plan(event.agency_id, contacts, "invitation" if first else "agenda",
                 Privacy.DEIDENTIFIED, essential=first)


def for_urgent_situation(event: UrgentSituationAdded, directory: Directory) -> list[Planned]:
    """The chair's notice of an urgent situation its agenda does not show yet."""
    contacts = _contacts(directory, event.agency_id, ContactRole.COMMUNITY_ENGAGEMENT_TEAM,
                         ContactRole.TABLE_REPRESENTATIVE)
    return _plan(event.agency_id, contacts, "urgent_situation", Privacy.DEIDENTIFIED,
                 essential=True)


def for_assignment(event: AgenciesAssigned, directory: Directory) -> list[Planned]:
    """The lead's and each assisting agency's assignment."""
    out: list[Planned] = []
    for part, task in (("lead", event.lead), *(("assisting", t) for t in event.assisting)):
        contacts = _contacts(directory, task.agency_id, ContactRole.TABLE_REPRESENTATIVE)
        out += _plan(task.agency_id, contacts, "assignment", Privacy.REFERENCE, essential=True,
                     part=part)
    return out


def for_disclosure(event: DisclosureSealed, directory: Directory) -> list[Planned]:
    """The sealed package, to the one agency that can open it."""
    contacts = _contacts(directory, event.recipient_agency, ContactRole.DISCLOSURES,
                         ContactRole.TABLE_REPRESENTATIVE)
    return _plan(event.recipient_agency, contacts, "disclosure", Privacy.SEALED, essential=True)


def for_sla(event: SlaWarning | SlaBreached, directory: Directory, on: date) -> list[Planned]:
    """The escalation to the district's Staff Sergeant; a warning also reminds the agency."""
    kind: NoticeKind = "sla_warning" if isinstance(event, SlaWarning) else "escalation"
    out: list[Planned] = []
    cmb = directory.cmb(event.district, on)
    if cmb is not None:
        out += _plan(cmb.agency_id, cmb.contacts_for(ContactRole.STAFF_SERGEANT), kind,
                     Privacy.REFERENCE, essential=True)
    if isinstance(event, SlaWarning) and event.agency_id is not None and (
            cmb is None or event.agency_id != cmb.agency_id):
        contacts = _contacts(directory, event.agency_id, ContactRole.TABLE_REPRESENTATIVE)
        out += _plan(event.agency_id, contacts, "sla_warning", Privacy.REFERENCE,
                     essential=False, part="expected_to_act")
    return out


def for_conclusion(event: SituationConcluded, originating_agency: str,
                   directory: Directory) -> list[Planned]:
    """The conclusion, to the agency that referred the situation."""
    contacts = _contacts(directory, originating_agency, ContactRole.INTAKE,
                         ContactRole.TABLE_REPRESENTATIVE)
    return _plan(originating_agency, contacts, "referral_status", Privacy.REFERENCE,
                 essential=True, part="originating_agency")


def for_command_rejected(event: CommandRejected, actor: Actor,
                         directory: Directory) -> list[Planned]:
    """The refusal, to the agency (and role) that issued the command."""
    roles = ((ContactRole.COMMUNITY_ENGAGEMENT_TEAM, ContactRole.TABLE_REPRESENTATIVE)
             if actor.role in ("table_chair", "cmb")
             else (ContactRole.TABLE_REPRESENTATIVE, ContactRole.INTAKE))
    contacts = _contacts(directory, actor.agency_id, *roles)
    return _plan(actor.agency_id, contacts, "command_rejected", Privacy.REFERENCE, essential=True)


def for_referral_rejected(event: ReferralRejected, directory: Directory) -> list[Planned]:
    """An e-mail copy for the intake contacts that asked for one."""
    contacts = [c for c in directory.contacts(event.agency_id, ContactRole.INTAKE)
                if c.channel is Channel.EMAIL and c.preferences.email_copy_of_referral_rejected]
    return _plan(event.agency_id, contacts, "referral_status", Privacy.REFERENCE, essential=True)


def for_identity_purged(event: IdentityPurged, directory: Directory, on: date) -> list[Planned]:
    """An open situation's identity purged for inactivity: its table's chair is told (the other
    purges follow a decision the table made itself)."""
    if event.reason != "inactive" or event.district is None:
        return []
    cmb = directory.cmb(event.district, on)
    if cmb is None:
        return []
    return _plan(cmb.agency_id, cmb.contacts_for(ContactRole.COMMUNITY_ENGAGEMENT_TEAM),
                 "identity_purged", Privacy.REFERENCE, essential=True)


def plan(event: object, directory: Directory, on: date, *, originating_agency: str | None = None,
         actor: Actor | None = None) -> list[Planned]:
    """Every notice ``event`` calls for (empty for events notifier does not notify about).

    ``originating_agency`` (for a conclusion) and ``actor`` (for a refused command) are facts
    the event does not carry; without them those notices cannot be addressed (empty).
    """
    if isinstance(event, AgendaIssued):
        return for_agenda(event, directory)
    if isinstance(event, UrgentSituationAdded):
        return for_urgent_situation(event, directory)
    if isinstance(event, AgenciesAssigned):
        return for_assignment(event, directory)
    if isinstance(event, DisclosureSealed):
        return for_disclosure(event, directory)
    if isinstance(event, SlaWarning | SlaBreached):
        return for_sla(event, directory, on)
    if isinstance(event, SituationConcluded):
        return [] if originating_agency is None else for_conclusion(event, originating_agency,
                                                                    directory)
    if isinstance(event, CommandRejected):
        return [] if actor is None else for_command_rejected(event, actor, directory)
    if isinstance(event, ReferralRejected):
        return for_referral_rejected(event, directory)
    if isinstance(event, IdentityPurged):
        return for_identity_purged(event, directory, on)
    return []
