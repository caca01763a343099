"""Synthetic sample events and commands for tests (and docs). Every value is obviously made up.

Agencies are fictional slugs; the only addresses are role addresses on ``example.org``; the one
identified person is "Sample Person" born 1990-01-01 with a 555 number. Ids are fixed UUIDv7
values so tests are deterministic.

Use :func:`sample` for any registered type, with field overrides::

    event = sample(ReferralSubmitted, priority="urgent")
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from uuid import UUID

from schemas.base import Actor, Message
from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    ReopenSituation,
    RespondToAssignment,
    RespondToInvitation,
)
from schemas.disclosures import DisclosureSealed
from schemas.event_requests import (
    DeclineEventRequest,
    EventLocation,
    EventRequestAcknowledged,
    EventRequestCommandRefused,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestContactPurged,
    EventRequestDeclined,
    EventRequestExpired,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    Requester,
    ScheduleEventRequest,
    TimeWindow,
    WithdrawEventRequest,
)
from schemas.meetings import (
    AgendaIssued,
    AgendaItem,
    AgendaMeeting,
    CommandRejected,
    MeetingScheduled,
    ParticipantInvited,
    UrgentSituationAdded,
)
from schemas.notices import NoticeAcknowledged, NoticeDelivered, NoticeFailed
from schemas.referrals import (
    AerAttestation,
    IdentifiedPerson,
    PersonConcerned,
    Reason,
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
    ReferralWithdrawn,
    SituationSummary,
    Subject,
)
from schemas.registry import MESSAGES
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AgencyTask,
    AssignmentResponded,
    IdentityPurged,
    InterventionRecorded,
    SituationConcluded,
    SituationOpened,
    SituationReopened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)

M = TypeVar("M", bound=Message)

NOW = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
"""A fixed instant the samples are built around (a Monday, 09:00 in Halton)."""
SITUATION_ID = UUID("0194a1b2-0000-7000-8000-000000000001")
MEETING_ID = UUID("0194a1b2-0000-7000-8000-000000000002")
INVITATION_ID = UUID("0194a1b2-0000-7000-8000-000000000003")
NOTICE_ID = UUID("0194a1b2-0000-7000-8000-000000000004")
DISCLOSURE_ID = UUID("0194a1b2-0000-7000-8000-000000000005")
EVENT_ID = UUID("0194a1b2-0000-7000-8000-000000000006")
REQUEST_ID = UUID("0194a1b2-0000-7000-8000-000000000007")
ORIGINATOR = "housing-services"
LEAD = "sample-lead-agency"
ASSISTING = "sample-assisting-agency"
CHAIR_AGENCY = "sample-police-d1"
REFERRAL_REF = "REF-0001"
SOURCE = "/commande/samples"
ROLE_ADDRESS = "situation-table@example.org"
"""A role address for tests that need one (never a person's)."""

CHAIR = Actor(agency_id=CHAIR_AGENCY, role="table_chair")
CMB = Actor(agency_id=CHAIR_AGENCY, role="cmb")


def event_window(days_ahead: int = 45) -> TimeWindow:
    """A preferred window ``days_ahead`` days after :data:`NOW`, 18:30 to 20:00 local time."""
    return TimeWindow(date=(NOW + timedelta(days=days_ahead)).date(), start=time(18, 30),
                      end=time(20, 0))


def requester() -> Requester:
    """An obviously synthetic requester: a role address and a 555 number."""
    return Requester(
        name="Sample Requester", organization="Sample Community Association",
        mailing_address="1 Example Street, Milton, ON", daytime_phone="+1 905 555 0101",
        email="events@example.org",
    )


def summary() -> SituationSummary:
    """A de-identified situation: one adult in Milton, two risk factors."""
    return SituationSummary(
        situation_type="individual",
        municipality="milton",
        persons=(PersonConcerned(age_group="age_25_29", gender="woman"),),
        risk_factors=("mental_health.diagnosed_not_treated", "housing.eviction_risk"),
        protective_factors=("family_support",),
        study_flags=(),
        narrative="Repeated crisis calls; risk of losing housing this month.",
    )


def attestation() -> AerAttestation:
    """All four AER tests attested."""
    return AerAttestation(
        significant_interest=True, probable_harm=True, severe_harm=True,
        multi_disciplinary=True, attested_at=NOW - timedelta(hours=2),
    )


def subject() -> Subject:
    """An obviously synthetic identified block."""
    return Subject(
        people=(
            IdentifiedPerson(
                given_name="Sample", family_name="Person",
                date_of_birth=date(1990, 1, 1), phone="+1 905 555 0100",
            ),
        ),
        address="1 Example Street, Milton, ON",
        languages=("en",),
        safety_notes="Synthetic: small dog on the premises.",
        legal_basis="mfippa_health_safety",
    )


def _defaults() -> dict[type[Message], dict[str, Any]]:
    task = AgencyTask(agency_id=LEAD, state="requested")
    reason = Reason(
        code="sample_reason", field="summary.municipality",
        message="Synthetic sample reason: correct the field and submit again.",
    )
    sla = {"district": "district_1", "started_at": NOW, "due_at": NOW + timedelta(hours=48)}
    notice = {"notice_id": NOTICE_ID, "recipient_agency": LEAD}
    return {
        ReferralSubmitted: {
            "agency_id": ORIGINATOR, "referral_ref": REFERRAL_REF, "submitted_at": NOW,
            "priority": "routine", "summary": summary(), "aer": attestation(),
            "subject": subject(),
        },
        ReferralWithdrawn: {
            "agency_id": ORIGINATOR, "referral_ref": REFERRAL_REF, "withdrawn_at": NOW,
            "reason": "resolved_elsewhere",
        },
        ReferralAccepted: {
            "agency_id": ORIGINATOR, "referral_ref": REFERRAL_REF, "situation_id": SITUATION_ID,
            "district": "district_1", "accepted_at": NOW,
        },
        ReferralRejected: {
            "agency_id": ORIGINATOR, "referral_ref": REFERRAL_REF, "rejected_at": NOW,
            "reasons": (reason,),
        },
        SituationOpened: {
            "situation_id": SITUATION_ID, "originating_agency": ORIGINATOR,
            "referral_ref": REFERRAL_REF, "district": "district_1", "priority": "routine",
            "opened_at": NOW, "summary": summary(), "aer": attestation(),
        },
        SituationScheduled: {
            "situation_id": SITUATION_ID, "meeting_id": MEETING_ID, "district": "district_1",
            "meeting_starts_at": NOW + timedelta(days=3), "slot": "regular", "scheduled_at": NOW,
        },
        AerDecisionRecorded: {
            "situation_id": SITUATION_ID, "meeting_id": MEETING_ID, "decision": "confirmed",
            "decided_at": NOW, "decided_by": CHAIR,
        },
        AgenciesAssigned: {
            "situation_id": SITUATION_ID, "meeting_id": MEETING_ID, "lead": task,
            "assisting": (AgencyTask(agency_id=ASSISTING),), "identity_release": "filter_3",
            "assigned_at": NOW, "assigned_by": CHAIR,
        },
        AssignmentResponded: {
            "situation_id": SITUATION_ID, "agency_id": LEAD, "from_state": "requested",
            "to_state": "accepted", "responded_at": NOW,
            "responded_by": Actor(agency_id=LEAD, role="lead_agency"),
        },
        InterventionRecorded: {
            "situation_id": SITUATION_ID, "agency_id": LEAD, "first_contact_at": NOW,
            "outcome": "accepted_services", "services_mobilized": ("mental_health", "housing"),
            "recorded_at": NOW, "recorded_by": Actor(agency_id=LEAD, role="lead_agency"),
        },
        SituationConcluded: {
            "situation_id": SITUATION_ID, "conclusion": "risk_lowered_connected_to_services",
            "concluded_at": NOW, "concluded_by": CHAIR, "meeting_id": MEETING_ID,
        },
        SituationReopened: {
            "situation_id": SITUATION_ID, "reason": "risk_rose_again", "reopened_at": NOW,
            "reopened_by": CHAIR,
        },
        SlaWarning: {
            "situation_id": SITUATION_ID, "sla": "first_contact", "agency_id": LEAD,
            "warned_at": NOW + timedelta(hours=24), **sla,
        },
        SlaBreached: {
            "situation_id": SITUATION_ID, "sla": "first_contact", "agency_id": LEAD,
            "breached_at": NOW + timedelta(hours=48), **sla,
        },
        IdentityPurged: {
            "situation_id": SITUATION_ID, "purged_at": NOW, "reason": "retention_expired",
            "records_purged": 1,
        },
        MeetingScheduled: {
            "meeting_id": MEETING_ID, "district": "district_1", "kind": "regular",
            "starts_at": NOW + timedelta(days=3), "ends_at": NOW + timedelta(days=3, hours=2),
            "venue": "Sample station, meeting room A", "scheduled_at": NOW,
        },
        ParticipantInvited: {
            "meeting_id": MEETING_ID, "invitation_id": INVITATION_ID, "agency_id": LEAD,
            "reason": "sector_match", "situation_ids": (SITUATION_ID,),
            "matched_sectors": ("mental_health",), "invited_at": NOW,
        },
        AgendaIssued: {
            "meeting_id": MEETING_ID, "agency_id": LEAD, "kind": "first", "revision": 1,
            "items": (
                AgendaItem(
                    position=1, situation_id=SITUATION_ID, priority="routine", summary=summary()
                ),
            ),
            "issued_at": NOW,
            "meeting": AgendaMeeting(
                district="district_1", kind="regular", starts_at=NOW + timedelta(days=3),
                ends_at=NOW + timedelta(days=3, hours=2), venue="Sample station, meeting room A"),
        },
        UrgentSituationAdded: {
            "meeting_id": MEETING_ID, "agency_id": CHAIR.agency_id, "situation_id": SITUATION_ID,
            "summary": summary(),
            "meeting": AgendaMeeting(
                district="district_1", kind="ad_hoc", starts_at=NOW + timedelta(hours=4),
                ends_at=NOW + timedelta(hours=6), venue="Sample station, meeting room A"),
            "agendas_by": NOW + timedelta(seconds=60), "added_at": NOW,
        },
        CommandRejected: {
            "command_id": EVENT_ID, "command_type": AssignAgencies.ce_type,
            "target": "situation", "target_id": SITUATION_ID, "rejected_at": NOW,
            "reasons": (reason,), "actor": CHAIR,
        },
        RecordAerDecision: {
            "actor": CHAIR, "issued_at": NOW, "situation_id": SITUATION_ID,
            "meeting_id": MEETING_ID, "decision": "confirmed",
        },
        AssignAgencies: {
            "actor": CHAIR, "issued_at": NOW, "situation_id": SITUATION_ID,
            "meeting_id": MEETING_ID, "lead": LEAD, "assisting": (ASSISTING,),
            "identity_release": "filter_3",
        },
        RespondToAssignment: {
            "actor": Actor(agency_id=LEAD, role="lead_agency"), "issued_at": NOW,
            "situation_id": SITUATION_ID, "agency_id": LEAD, "answer": "accepted",
        },
        RecordIntervention: {
            "actor": Actor(agency_id=LEAD, role="lead_agency"), "issued_at": NOW,
            "situation_id": SITUATION_ID, "agency_id": LEAD, "first_contact_at": NOW,
            "outcome": "accepted_services", "services_mobilized": ("mental_health",),
        },
        ConcludeSituation: {
            "actor": CHAIR, "issued_at": NOW, "situation_id": SITUATION_ID,
            "conclusion": "risk_lowered_connected_to_services", "meeting_id": MEETING_ID,
        },
        ReopenSituation: {
            "actor": CHAIR, "issued_at": NOW, "situation_id": SITUATION_ID,
            "reason": "risk_rose_again",
        },
        RespondToInvitation: {
            "actor": Actor(agency_id=LEAD, role="member"), "issued_at": NOW,
            "meeting_id": MEETING_ID, "invitation_id": INVITATION_ID, "answer": "accepted",
            "attendance": "remote",
        },
        DisclosureSealed: {
            "situation_id": SITUATION_ID, "disclosure_id": DISCLOSURE_ID,
            "disclosing_agency": ORIGINATOR, "recipient_agency": LEAD,
            "recipient_key_id": "0123456789abcdef",
            "fields": ("subject.people.given_name", "subject.address"),
            "legal_basis": "mfippa_health_safety", "filter_stage": 3,
            "purpose": "Plan the intervention as lead agency.",
            "ciphertext": "U3ludGhldGljIHNlYWxlZCBib3g=", "sealed_at": NOW,
        },
        NoticeDelivered: {
            **notice, "kind": "invitation", "cause_id": EVENT_ID, "channel": "email",
            "attempt": 1, "delivered_at": NOW,
        },
        NoticeFailed: {
            **notice, "kind": "invitation", "cause_id": EVENT_ID, "channel": "webhook",
            "attempt": 1, "error": "webhook_timeout", "permanent": False,
            "next_attempt_at": NOW + timedelta(minutes=1), "failed_at": NOW,
        },
        NoticeAcknowledged: {**notice, "via": "link", "acknowledged_at": NOW},
        EventRequestSubmitted: {
            "request_id": REQUEST_ID, "submitted_at": NOW, "kind": "speaker",
            "windows": (event_window(),),
            "location": EventLocation(municipality="Milton", address_or_venue="Sample Hall"),
            "topics": ("seniors_safety",), "topics_other": "Phone scams",
            "expected_attendees": 40, "requester": requester(),
        },
        ScheduleEventRequest: {
            "actor": CMB, "issued_at": NOW, "request_id": REQUEST_ID,
            "date": event_window().date, "start": time(18, 30),
            "officer_role": "community_safety_officer", "notes": "Projector on site, please.",
        },
        DeclineEventRequest: {
            "actor": CMB, "issued_at": NOW, "request_id": REQUEST_ID, "reason": "no_capacity",
            "note": "No officer is free that week; please ask again for another date.",
        },
        WithdrawEventRequest: {
            "actor": CMB, "issued_at": NOW, "request_id": REQUEST_ID,
            "reason": "no_longer_needed",
        },
        EventRequestAcknowledged: {
            "request_id": REQUEST_ID, "district": "district_1", "municipality": "milton",
            "kind": "speaker", "windows": (event_window(),), "topics": ("seniors_safety",),
            "expected_attendees": 40, "acknowledged_at": NOW,
        },
        EventRequestRejected: {
            "request_id": REQUEST_ID, "rejected_at": NOW, "reasons": (reason,),
            "earliest_acceptable_date": (NOW + timedelta(days=30)).date(), "kind": "speaker",
        },
        EventRequestScheduled: {
            "request_id": REQUEST_ID, "district": "district_1", "date": event_window().date,
            "start": time(18, 30), "officer_role": "community_safety_officer",
            "scheduled_at": NOW,
        },
        EventRequestDeclined: {
            "request_id": REQUEST_ID, "district": "district_1", "reason": "no_capacity",
            "declined_at": NOW,
        },
        EventRequestWithdrawn: {
            "request_id": REQUEST_ID, "district": "district_1", "reason": "no_longer_needed",
            "withdrawn_at": NOW,
        },
        EventRequestReminderDue: {
            "request_id": REQUEST_ID, "district": "district_1", "escalate_to": "cmb_manager",
            "business_days_waiting": 3, "due_at": NOW + timedelta(days=3),
        },
        EventRequestCommandRefused: {
            "request_id": REQUEST_ID, "command_id": EVENT_ID,
            "command_type": ScheduleEventRequest.ce_type, "actor_agency_id": CHAIR_AGENCY,
            "refused_at": NOW, "reasons": (reason,),
        },
        EventRequestContactPurged: {"request_id": REQUEST_ID, "purged_at": NOW},
        EventRequestConfirmationRequested: {
            "request_id": REQUEST_ID, "requested_at": NOW, "expires_at": NOW + timedelta(hours=48),
            "kind": "speaker", "municipality": "milton", "district": "district_1",
            "windows": (event_window(),),
        },
        EventRequestConfirmed: {"request_id": REQUEST_ID, "confirmed_at": NOW},
        EventRequestExpired: {"request_id": REQUEST_ID, "expired_at": NOW,
                              "district": "district_1"},
    }


def sample_fields(model: type[Message]) -> dict[str, Any]:
    """The keyword arguments :func:`sample` builds ``model`` from (a fresh dict to edit)."""
    return dict(_defaults()[model])


def sample(model: type[M], **overrides: Any) -> M:
    """A valid, synthetic instance of ``model``, with ``overrides`` applied (and validated)."""
    return model(**{**sample_fields(model), **overrides})


def sealed_referral(**overrides: Any) -> ReferralSubmitted:
    """A ``ReferralSubmitted`` whose identified block arrives sealed (fake ciphertext)."""
    fields = {"subject": None, "sealed_subject": "U3ludGhldGljIHNlYWxlZCBzdWJqZWN0", **overrides}
    return sample(ReferralSubmitted, **fields)


def all_samples() -> tuple[Message, ...]:
    """One valid sample of every registered event and command, in registry order."""
    return tuple(sample(model) for model in MESSAGES)
