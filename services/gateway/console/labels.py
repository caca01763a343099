"""Words for codes (pure): reference data names, the directory's agency names, and the fixed
vocabularies of the contracts. A code nobody named is shown as it is."""

from __future__ import annotations

from collections.abc import Mapping

from directory import Directory
from schemas.reference import Reference
from schemas.reference.labels import reference_names

DECISIONS: Mapping[str, str] = {
    "confirmed": "AER confirmed: the table acts (Filter 3 follows)",
    "rejected": "Rejected: not acutely elevated risk",
    "returned": "Returned to the originating agency",
}
ANSWERS: Mapping[str, str] = {
    "accepted": "Accept", "rejected": "Decline", "in-progress": "Mark in progress",
    "on-hold": "Put on hold", "completed": "Mark completed", "failed": "Mark failed",
    "cancelled": "Cancel",
}
OUTCOMES: Mapping[str, str] = {
    "accepted_services": "Accepted services", "accepted_information": "Accepted information only",
    "accepted_referral": "Accepted a referral", "refused": "Refused",
    "unable_to_locate": "Unable to locate", "pending": "Pending (no contact yet)",
}
REOPEN_REASONS: Mapping[str, str] = {
    "risk_rose_again": "The risk rose again",
    "new_information": "New information reached the table",
    "concluded_in_error": "Concluded in error",
}
ROLES: Mapping[str, str] = {
    "community_engagement_team": "Community Engagement Team (table chair)",
    "staff_sergeant": "Staff Sergeant", "sergeant": "Sergeant", "cmb_manager": "CMB manager",
    "table_representative": "table contact", "system": "the agency's own system",
    "intake": "intake", "disclosures": "disclosures",
}
ACTOR_ROLES: Mapping[str, str] = {
    "table_chair": "table chair", "lead_agency": "lead agency",
    "assisting_agency": "assisting agency", "member": "table member", "cmb": "CMB",
}
EVENTS: Mapping[str, str] = {
    "opened": "Opened (referral accepted)", "scheduled": "Scheduled on a meeting",
    "aer_decision_recorded": "Filter 2 decision", "agencies_assigned": "Agencies assigned",
    "assignment_responded": "Assignment answered", "intervention_recorded": "Intervention recorded",
    "concluded": "Concluded", "reopened": "Reopened", "sla_warning": "Response window warning",
    "sla_breached": "Response window passed", "identity_purged": "Identity purged",
}
NOTICE_KINDS: Mapping[str, str] = {
    "invitation": "Invitation to a table meeting", "agenda": "Agenda",
    "assignment": "Assignment", "disclosure": "Sealed disclosure",
    "sla_warning": "Response window warning", "escalation": "Escalation",
    "referral_status": "Referral answer", "command_rejected": "Refused command",
    "event_request": "Community event request",
    "event_request_reminder": "Event request reminder", "identity_purged": "Identity purged",
    "urgent_situation": "Urgent situation added",
}
SLA: Mapping[str, str] = {"first_contact": "first contact after AER confirmation",
                          "lead_acceptance": "lead agency's acceptance"}


class Labels:
    """Names of reference codes and agencies, built once per reference and directory."""

    def __init__(self, ref: Reference, directory: Directory) -> None:
        self.directory = directory
        self._names: dict[str, Mapping[str, str]] = {
            **reference_names(ref),
            "decision": DECISIONS, "answer": ANSWERS, "outcome": OUTCOMES, "role": ROLES,
            "actor_role": ACTOR_ROLES, "event": EVENTS, "notice": NOTICE_KINDS, "sla": SLA,
            "reopen": REOPEN_REASONS,
        }

    def __call__(self, kind: str, code: str | None) -> str:
        """The name of ``code`` of ``kind`` (``—`` for none)."""
        if code is None:
            return "—"
        return self._names[kind].get(code, code.replace("_", " "))

    def agency(self, agency_id: str | None) -> str:
        """An agency's name from the directory."""
        if agency_id is None:
            return "—"
        org = self.directory.organization(agency_id)
        return org.name if org is not None else agency_id
