"""Intake's answer to a referral given what it knows of the reference: accept, reject,
duplicate, conflict; and withdrawals."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from schemas.referrals import (
    Reason,
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
    ReferralSummary,
    ReferralWithdrawn,
    SituationSummary,
    withheld_ref,
)
from schemas.situations import IdentityPurged, SituationConcluded, SituationOpened
from services.intake.decide import (
    CONFLICT,
    DUPLICATE,
    ReferralState,
    decide_submission,
    decide_withdrawal,
)
from services.intake.rules import Checked
from services.runtime.decision import Decided, Unchanged
from tests.support.samples import NOW, sample

pytestmark = pytest.mark.unit

SID = UUID("0194a1b2-0000-7000-8000-0000000000aa")
OTHER = UUID("0194a1b2-0000-7000-8000-0000000000bb")
EVENT = sample(ReferralSubmitted)
OK = Checked(district="district_1", reasons=(), municipality="milton")
BAD = Checked(district=None, reasons=(Reason(code="municipality_outside_halton",
                                             field="summary.municipality", message="Fix it."),),
              municipality=None)
LATER = NOW + timedelta(hours=3)


def accepted_state(fingerprint: bytes | None = b"fp", status: str = "open") -> ReferralState:
    return ReferralState(agency_id=EVENT.agency_id, referral_ref=EVENT.referral_ref,
                         fingerprint=fingerprint, outcome="accepted", answered_at=NOW,
                         situation_id=SID, district="district_1",
                         situation_status=status)  # type: ignore[arg-type]


def test_a_new_good_referral_opens_a_deidentified_situation() -> None:
    decision = decide_submission(None, EVENT, OK, b"fp", NOW, SID)
    assert isinstance(decision, Decided)
    assert decision.state.outcome == "accepted"
    opened, accepted = decision.events
    assert isinstance(opened, SituationOpened)
    assert isinstance(accepted, ReferralAccepted)
    assert opened.situation_id == accepted.situation_id == SID
    assert opened.district == accepted.district == "district_1"
    assert opened.summary.model_dump() == EVENT.summary.model_dump()  # milton is a code already
    assert opened.aer == EVENT.aer
    assert "subject" not in opened.model_dump()
    assert accepted.duplicate is False
    assert accepted.key() == f"{EVENT.agency_id}/{EVENT.referral_ref}"


def test_the_situation_carries_the_municipality_code_not_the_name_as_written() -> None:
    event = EVENT.model_copy(update={"summary": ReferralSummary(
        **{**EVENT.summary.model_dump(), "municipality": " Glen Williams "})})
    checked = Checked(district="district_1", reasons=(), municipality="halton_hills")
    decision = decide_submission(None, event, checked, b"fp", NOW, SID)
    assert isinstance(decision, Decided)
    assert decision.state.outcome == "accepted"
    opened = decision.events[0]
    assert isinstance(opened, SituationOpened)
    assert type(opened.summary) is SituationSummary
    assert opened.summary.municipality == "halton_hills"
    assert opened.summary.model_dump(exclude={"municipality"}) == event.summary.model_dump(
        exclude={"municipality"})
    assert "Glen Williams" not in opened.model_dump_json()


def test_a_bad_referral_is_rejected_with_every_reason() -> None:
    decision = decide_submission(None, EVENT, BAD, b"fp", NOW, SID)
    assert isinstance(decision, Decided)
    assert decision.state.outcome == "rejected"
    (rejected,) = decision.events
    assert isinstance(rejected, ReferralRejected)
    assert rejected.reasons == BAD.reasons


def test_a_reference_that_identifies_someone_is_not_repeated_in_the_answer() -> None:
    """The answer's key and e-mail subject would carry it, on a topic kept a year."""
    event = EVENT.model_copy(update={"referral_ref": "AVERY-9055550101"})
    bad_ref = Checked(district="district_1", reasons=(Reason(
        code="referral_ref_contains_phone", field="referral_ref", message="Fix it."),),
        municipality="milton")
    decision = decide_submission(None, event, bad_ref, b"fp", NOW, SID)
    assert isinstance(decision, Decided)
    assert decision.state.outcome == "rejected"
    (rejected,) = decision.events
    assert isinstance(rejected, ReferralRejected)
    assert rejected.referral_ref == withheld_ref(event.agency_id, "AVERY-9055550101")
    assert rejected.referral_ref.startswith("withheld-")
    assert "9055550101" not in rejected.key()


def test_the_same_content_again_republishes_the_same_acceptance() -> None:
    decision = decide_submission(accepted_state(), EVENT, OK, b"fp", LATER, OTHER)
    assert isinstance(decision, Unchanged)
    assert decision.code == DUPLICATE
    (again,) = decision.events
    assert isinstance(again, ReferralAccepted)
    assert again.situation_id == SID
    assert again.duplicate is True
    assert again.accepted_at == NOW


def test_other_content_under_an_accepted_reference_is_a_conflict() -> None:
    decision = decide_submission(accepted_state(), EVENT, OK, b"other", LATER, OTHER)
    assert isinstance(decision, Unchanged)
    assert decision.code == CONFLICT
    (rejected,) = decision.events
    assert isinstance(rejected, ReferralRejected)
    assert [(r.code, r.field) for r in rejected.reasons] == [("duplicate_ref_conflict",
                                                               "referral_ref")]


def test_any_content_under_a_purged_reference_is_a_conflict() -> None:
    decision = decide_submission(accepted_state(fingerprint=None), EVENT, OK, b"fp", LATER, OTHER)
    assert isinstance(decision, Unchanged)
    assert decision.code == CONFLICT


def test_the_same_rejected_content_again_gets_the_same_reasons() -> None:
    state = ReferralState(agency_id=EVENT.agency_id, referral_ref=EVENT.referral_ref,
                          fingerprint=b"fp", outcome="rejected", answered_at=NOW,
                          reasons=BAD.reasons)
    decision = decide_submission(state, EVENT, OK, b"fp", LATER, OTHER)
    assert isinstance(decision, Unchanged)
    assert decision.code == DUPLICATE
    (again,) = decision.events
    assert isinstance(again, ReferralRejected)
    assert again.reasons == BAD.reasons


def test_a_corrected_referral_after_a_rejection_is_checked_afresh() -> None:
    state = ReferralState(agency_id=EVENT.agency_id, referral_ref=EVENT.referral_ref,
                          fingerprint=b"fp", outcome="rejected", answered_at=NOW,
                          reasons=BAD.reasons)
    decision = decide_submission(state, EVENT, OK, b"fixed", LATER, SID)
    assert isinstance(decision, Decided)
    assert decision.state.outcome == "accepted"


def test_withdrawing_an_open_situation_concludes_and_purges() -> None:
    decision = decide_withdrawal(accepted_state(), sample(ReferralWithdrawn), LATER, 1)
    assert isinstance(decision, Decided)
    assert decision.state.situation_id == SID
    assert (decision.state.situation_status, decision.state.fingerprint) == ("concluded", None)
    concluded, purged = decision.events
    assert isinstance(concluded, SituationConcluded)
    assert concluded.conclusion == "withdrawn"
    assert concluded.concluded_by is None
    assert isinstance(purged, IdentityPurged)
    assert purged.reason == "withdrawn"
    assert purged.records_purged == 1


@pytest.mark.parametrize(("state", "code"), [
    (None, "withdrawal_of_unknown_referral"),
    (ReferralState(agency_id="a-b", referral_ref="r", fingerprint=b"x", outcome="rejected",
                   answered_at=NOW, reasons=BAD.reasons), "withdrawal_of_rejected_referral"),
    (accepted_state(status="concluded"), "withdrawal_after_conclusion"),
])
def test_withdrawals_that_change_nothing(state: ReferralState | None, code: str) -> None:
    assert decide_withdrawal(state, sample(ReferralWithdrawn), LATER, 0) == Unchanged(code)
