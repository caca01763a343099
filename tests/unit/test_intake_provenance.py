"""Who may produce what intake acts on, and who may receive identity (services.intake.provenance):
the producer table, the referral signature rules and the disclosure recipients, on halton.yaml."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from nacl.signing import SigningKey

from directory import Directory, load_directory
from schemas.base import Actor, IdentityRelease
from schemas.envelope import Record, to_record
from schemas.event_requests import (
    DeclineEventRequest,
    EventRequestSubmitted,
    ScheduleEventRequest,
    WithdrawEventRequest,
)
from schemas.referrals import ReferralSubmitted, ReferralWithdrawn
from schemas.registry import MESSAGES
from schemas.signing import H_SIGNATURE, sign_record
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AgencyTask,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationReopened,
    SituationScheduled,
)
from services.intake.provenance import (
    CONVENING,
    EXPECTED_PRODUCERS,
    GATEWAY,
    INTAKE,
    Trust,
    assignment_refusals,
    check_referral,
    disclosure_refusal,
    partner_source,
    trust,
)
from services.intake.settings import IntakeSettings
from services.intake.signing import development_signing_key
from tests.support.samples import sample

pytestmark = pytest.mark.unit

AGENCY = "housing-services"
TODAY = date(2026, 1, 5)


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(IntakeSettings().directory_path)


# -- the producer table ------------------------------------------------------------------------


def test_every_type_intake_acts_on_has_exactly_its_producer() -> None:
    assert dict(EXPECTED_PRODUCERS) == {
        AgenciesAssigned.ce_type: {CONVENING}, AssignmentResponded.ce_type: {CONVENING},
        SituationConcluded.ce_type: {CONVENING}, SituationReopened.ce_type: {CONVENING},
        SituationScheduled.ce_type: {CONVENING}, AerDecisionRecorded.ce_type: {CONVENING},
        InterventionRecorded.ce_type: {CONVENING},  # activity only (identity's retention)
        ScheduleEventRequest.ce_type: {GATEWAY}, DeclineEventRequest.ce_type: {GATEWAY},
        WithdrawEventRequest.ce_type: {GATEWAY}, EventRequestSubmitted.ce_type: {INTAKE},
    }


@pytest.mark.parametrize("ce_type", sorted(EXPECTED_PRODUCERS))
@pytest.mark.parametrize("source", [CONVENING, GATEWAY, INTAKE, "/commande/cli",
                                    "/commande/notifier", "/partners/housing-services",
                                    "/commande/convening/", "/COMMANDE/convening", ""])
def test_trust_is_the_table_and_nothing_else(ce_type: str, source: str) -> None:
    expected = EXPECTED_PRODUCERS[ce_type]
    if source in expected:
        assert trust(ce_type, source) is Trust.TRUSTED
    elif source == INTAKE:
        assert trust(ce_type, source) is Trust.OWN
    else:
        assert trust(ce_type, source) is Trust.UNTRUSTED


def test_a_type_not_in_the_table_is_trusted_from_nobody() -> None:
    unlisted = {m.ce_type for m in MESSAGES} - set(EXPECTED_PRODUCERS)
    assert ReferralSubmitted.ce_type in unlisted
    for ce_type in unlisted:
        for source in (CONVENING, GATEWAY, "/partners/housing-services"):
            assert trust(ce_type, source) is Trust.UNTRUSTED


def test_intakes_own_conclusion_read_back_is_its_own_not_a_forgery() -> None:
    assert trust(SituationConcluded.ce_type, INTAKE) is Trust.OWN
    assert trust(SituationConcluded.ce_type, "/commande/gateway") is Trust.UNTRUSTED


# -- referral signatures -----------------------------------------------------------------------


def referral_record(key: SigningKey | None, *, source: str | None = None,
                    event: ReferralSubmitted | ReferralWithdrawn | None = None) -> Record:
    event = event or sample(ReferralSubmitted, agency_id=AGENCY)
    rec = to_record(event, source=source or partner_source(event.agency_id))
    return sign_record(rec, key) if key is not None else rec


def codes(rec: Record, directory: Directory, **event_overrides: Any) -> list[str]:
    source = dict(rec.headers)["ce_source"].decode()
    model = ReferralWithdrawn if b"withdrawn" in dict(rec.headers)["ce_type"] else ReferralSubmitted
    event = model.model_validate_json(rec.value)
    return [r.code for r in check_referral(rec.headers, rec.key, rec.value, source, event,
                                           directory)]


def test_a_referral_signed_by_its_agency_from_its_source_is_taken(directory: Directory) -> None:
    assert codes(referral_record(development_signing_key(AGENCY)), directory) == []


def test_a_withdrawal_signed_by_its_agency_is_taken(directory: Directory) -> None:
    withdrawal = sample(ReferralWithdrawn, agency_id=AGENCY)
    rec = referral_record(development_signing_key(AGENCY), event=withdrawal)
    assert codes(rec, directory) == []


def test_a_referral_intake_signed_as_intake_is_taken(directory: Directory) -> None:
    rec = referral_record(development_signing_key("intake"), source=INTAKE)
    assert codes(rec, directory) == []


@pytest.mark.parametrize(("key", "source", "expected"), [
    (None, None, "signature_missing"),
    ("public-health", None, "signature_wrong_agency"),
    ("intake", None, "signature_wrong_agency"),
    (AGENCY, INTAKE, "signature_wrong_agency"),
    ("stranger", None, "signature_invalid"),
    (AGENCY, "/agencies/housing-services", "source_not_allowed"),
    (AGENCY, "/partners/public-health", "source_not_allowed"),
    (AGENCY, "/commande/convening", "source_not_allowed"),
])
def test_unsigned_mis_signed_or_misplaced_referrals_are_refused_with_one_reason(
        directory: Directory, key: str | None, source: str | None, expected: str) -> None:
    signer = development_signing_key(key) if key is not None else None
    assert codes(referral_record(signer, source=source), directory) == [expected]


def test_a_withdrawal_is_never_intakes_to_make(directory: Directory) -> None:
    withdrawal = sample(ReferralWithdrawn, agency_id=AGENCY)
    rec = referral_record(development_signing_key("intake"), source=INTAKE, event=withdrawal)
    assert codes(rec, directory) == ["source_not_allowed"]


def test_a_value_changed_after_signing_is_invalid(directory: Directory) -> None:
    rec = referral_record(development_signing_key(AGENCY))
    tampered = replace(rec, value=rec.value.replace(b'"routine"', b'"urgent"'))
    assert tampered.value != rec.value
    assert codes(tampered, directory) == ["signature_invalid"]


def test_a_record_key_other_than_the_bodys_is_refused(directory: Directory) -> None:
    rec = sign_record(replace(referral_record(None), key=b"housing-services/OTHER-REF"),
                      development_signing_key(AGENCY))
    assert codes(rec, directory) == ["record_key_mismatch"]


def test_a_malformed_signature_header_is_invalid(directory: Directory) -> None:
    rec = referral_record(None)
    rec = replace(rec, headers=[*rec.headers, (H_SIGNATURE, base64.b64encode(b"short"))])
    assert codes(rec, directory) == ["signature_invalid"]


def test_an_agency_missing_from_the_directory_cannot_be_verified(directory: Directory) -> None:
    event = sample(ReferralSubmitted, agency_id="unknown-agency")
    rec = referral_record(development_signing_key("unknown-agency"), event=event)
    assert codes(rec, directory) == ["agency_unknown"]


def test_every_reason_says_what_to_do(directory: Directory) -> None:
    for key, source in ((None, None), ("public-health", None), ("stranger", None),
                        (AGENCY, "/agencies/x")):
        signer = development_signing_key(key) if key is not None else None
        rec = referral_record(signer, source=source)
        event = ReferralSubmitted.model_validate_json(rec.value)
        (reason,) = check_referral(rec.headers, rec.key, rec.value,
                                   dict(rec.headers)["ce_source"].decode(), event, directory)
        assert len(reason.message) > 40
        assert "/agencies/x" not in reason.message  # never echoes what the sender wrote


# -- who may receive identity ------------------------------------------------------------------


@pytest.mark.parametrize(("agency", "role", "release", "district", "on", "expected"), [
    ("housing-services", "lead", "filter_3", "district_1", TODAY, None),
    ("town-milton", "assisting", "filter_3", "district_1", TODAY, None),
    ("town-milton", "lead", "filter_4", "district_2", TODAY, "not_active_member"),
    ("town-oakville-legacy", "lead", "filter_4", "district_2", TODAY, "not_active_member"),
    ("community-living", "lead", "filter_3", "district_1", date(2015, 6, 1), "not_active_member"),
    ("no-such-agency", "lead", "filter_3", "district_1", TODAY, "not_active_member"),
    ("housing-services", "lead", "filter_3", "district_2", TODAY, "identity_release_not_allowed"),
    ("housing-services", "lead", "filter_4", "district_2", TODAY, None),
    ("housing-services", "lead", "filter_4", "district_1", TODAY, None),
    ("housing-services", "member", "filter_3", "district_1", TODAY, "role_not_allowed"),
    ("housing-services", "lead", "filter_3", "district_9", TODAY, "district_has_no_table"),
])
def test_identity_goes_only_to_active_members_in_their_role_at_the_tables_stage(
        directory: Directory, agency: str, role: str, release: IdentityRelease, district: str,
        on: date, expected: str | None) -> None:
    assert disclosure_refusal(agency, role, release, district, directory, on) == expected


def assigned(lead: str, *assisting: str, release: IdentityRelease = "filter_3") -> AgenciesAssigned:
    return sample(AgenciesAssigned, lead=AgencyTask(agency_id=lead),
                  assisting=tuple(AgencyTask(agency_id=a) for a in assisting),
                  identity_release=release,
                  assigned_by=Actor(agency_id="hrps-cmb-d1", role="table_chair"))


def test_an_assignment_is_checked_agency_by_agency(directory: Directory) -> None:
    event = assigned("housing-services", "hrps-cmb-d2", "public-health")
    assert assignment_refusals(event, "district_1", directory, TODAY) == {
        "housing-services": None, "hrps-cmb-d2": "not_active_member", "public-health": None}


def test_an_assignment_releasing_earlier_than_the_table_allows_is_refused_whole(
        directory: Directory) -> None:
    event = assigned("housing-services", "public-health")
    assert assignment_refusals(event, "district_3", directory, TODAY) == {
        "housing-services": "identity_release_not_allowed",
        "public-health": "identity_release_not_allowed"}
    later = assigned("housing-services", "public-health", release="filter_4")
    assert assignment_refusals(later, "district_3", directory, TODAY) == {
        "housing-services": None, "public-health": None}
