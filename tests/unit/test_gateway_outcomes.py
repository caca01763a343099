"""When the records a command caused settle it, and which HTTP status a refusal gets (pure)."""

from __future__ import annotations

import pytest

from schemas.commands import AssignAgencies, RecordAerDecision, RespondToAssignment
from schemas.event_requests import EventRequestCommandRefused, ScheduleEventRequest
from schemas.meetings import CommandRejected
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    SituationConcluded,
)
from services.gateway.outcomes import Accepted, Caused, Refused, refusal_status, settle

pytestmark = pytest.mark.unit


def caused(model: type, **body: object) -> Caused:
    return Caused(model.ce_type, f"id-{model.__name__}", body)  # type: ignore[attr-defined]


def test_nothing_yet_is_pending() -> None:
    assert settle(RecordAerDecision.ce_type, []) is None


def test_the_main_fact_settles_with_everything_caused_so_far() -> None:
    cancel = caused(AssignmentResponded, to_state="cancelled")
    assigned = caused(AgenciesAssigned)
    outcome = settle(AssignAgencies.ce_type, [cancel, assigned])
    assert outcome == Accepted((cancel, assigned))


def test_a_cancellation_alone_does_not_settle_an_assignment() -> None:
    assert settle(AssignAgencies.ce_type, [caused(AssignmentResponded)]) is None


def test_a_rejected_decision_waits_for_its_conclusion() -> None:
    decided = caused(AerDecisionRecorded, decision="rejected")
    assert settle(RecordAerDecision.ce_type, [decided]) is None
    concluded = caused(SituationConcluded, conclusion="rejected_not_aer")
    assert settle(RecordAerDecision.ce_type, [decided, concluded]) == Accepted((decided, concluded))
    confirmed = caused(AerDecisionRecorded, decision="confirmed")
    assert settle(RecordAerDecision.ce_type, [confirmed]) == Accepted((confirmed,))


def test_a_refusal_settles_and_names_the_actor() -> None:
    reasons = [{"code": "not_table_chair", "field": "actor", "message": "only the chair"}]
    rejected = caused(CommandRejected, reasons=reasons,
                      actor={"agency_id": "hrps-cmb-d2", "role": "table_chair"})
    outcome = settle(RespondToAssignment.ce_type, [rejected])
    assert isinstance(outcome, Refused)
    assert outcome.reasons == reasons
    assert outcome.actor == {"agency_id": "hrps-cmb-d2", "role": "table_chair"}


def test_intakes_refusal_names_the_agency() -> None:
    refused = caused(EventRequestCommandRefused, actor_agency_id="hrps-cmb-d2",
                     reasons=[{"code": "actor_not_district_cmb"}])
    outcome = settle(ScheduleEventRequest.ce_type, [refused])
    assert isinstance(outcome, Refused)
    assert outcome.actor == {"agency_id": "hrps-cmb-d2"}


@pytest.mark.parametrize(("codes", "status"), [
    (["not_table_chair"], 403),
    (["actor_not_district_cmb", "request_already_decided"], 403),
    (["meeting_not_started"], 409),
    (["wrong_state"], 409),
    (["identity_release_mismatch", "agency_not_table_member"], 422),
    (["unknown_conclusion"], 422),
])
def test_refusal_status(codes: list[str], status: int) -> None:
    assert refusal_status(codes) == status
