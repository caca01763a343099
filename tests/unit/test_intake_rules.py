"""Filter 1 rules: every rule on its own, and all reasons at once."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from directory import load_directory
from schemas.reference import load, reference
from schemas.reference.loader import HERE as REFERENCE_DIR
from schemas.referrals import (
    AerAttestation,
    IdentifiedPerson,
    PersonConcerned,
    ReferralSubmitted,
    ReferralSummary,
    SituationSummary,
    Subject,
)
from services.intake.rules import Checked, RuleConfig, check
from services.runtime.settings import PROJECT_ROOT
from tests.support.samples import NOW, sample, subject

pytestmark = pytest.mark.unit

DIRECTORY = load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")
TODAY = date(2026, 1, 5)
NARRATIVE = "Repeated crisis contacts this month; eviction notice served; no treatment in place."


def summary(**overrides: Any) -> SituationSummary:
    fields: dict[str, Any] = {
        "situation_type": "individual", "municipality": "milton",
        "persons": (PersonConcerned(age_group="age_25_29", gender="woman"),),
        "risk_factors": ("mental_health.diagnosed_not_treated", "housing.eviction_risk"),
        "narrative": NARRATIVE,
    }
    return SituationSummary(**{**fields, **overrides})


def written(municipality: str) -> ReferralSummary:
    """The summary with the municipality as an agency writes it (not a code)."""
    return ReferralSummary(**{**summary().model_dump(), "municipality": municipality})


def referral(**overrides: Any) -> ReferralSubmitted:
    fields: dict[str, Any] = {"agency_id": "mental-health-assoc", "summary": summary()}
    return sample(ReferralSubmitted, **{**fields, **overrides})


def run(event: ReferralSubmitted, subj: Subject | None = None, **kw: Any) -> Checked:
    chosen = subj if subj is not None else event.subject
    return check(event, chosen, reference=reference(), directory=DIRECTORY, today=TODAY, **kw)


def codes(result: Checked) -> list[tuple[str, str | None]]:
    return [(r.code, r.field) for r in result.reasons]


def test_a_good_referral_passes_and_gets_its_district() -> None:
    result = run(referral())
    assert result.ok, codes(result)
    assert result.district == "district_1"


@pytest.mark.parametrize(("town", "district"), [("oakville", "district_2"),
                                                 ("burlington", "district_3"),
                                                 ("georgetown", "district_1")])
def test_each_halton_municipality_routes_to_its_district(town: str, district: str) -> None:
    assert run(referral(summary=summary(municipality=town))).district == district


@pytest.mark.parametrize(("typed", "municipality", "district"), [
    ("Acton", "acton", "district_1"), ("Georgetown", "georgetown", "district_1"),
    (" burlington ", "burlington", "district_3"), ("Halton Hills", "halton_hills", "district_1"),
    ("HALTON-HILLS", "halton_hills", "district_1"), ("Glen Williams", "halton_hills", "district_1"),
    ("Terra Cotta, ON", "halton_hills", "district_1"), ("Géorgetown", "georgetown", "district_1"),
    ("Town of Oakville", "oakville", "district_2"), ("milton", "milton", "district_1"),
])
def test_a_municipality_as_written_gets_its_code_and_district(typed: str, municipality: str,
                                                              district: str) -> None:
    result = run(referral(summary=written(typed)))
    assert result.ok, codes(result)
    assert (result.municipality, result.district) == (municipality, district)


@pytest.mark.parametrize("typed", ["hamilton", "Hamilton", " WATERDOWN ", "Mississauga",
                                   "Toronto"])
def test_a_municipality_outside_halton_is_rejected(typed: str) -> None:
    result = run(referral(summary=written(typed)))
    assert (result.district, result.municipality) == (None, None)
    assert codes(result) == [("municipality_outside_halton", "summary.municipality")]
    message = result.reasons[0].message
    assert "is outside Halton Region" in message
    assert "Town of Milton" in message
    assert "City of Burlington" in message
    assert "^" not in message
    assert "[a-z" not in message  # names, never the contract's regex


def test_the_outside_reason_names_the_place_from_the_reference_data_not_as_typed() -> None:
    result = run(referral(summary=written("  stoney-CREEK ")))
    assert codes(result) == [("municipality_outside_halton", "summary.municipality")]
    assert result.reasons[0].message.startswith("Hamilton (City of Hamilton) is outside")
    assert "stoney" not in result.reasons[0].message.casefold()


@pytest.mark.parametrize("typed", ["Springfield", "Halton", "Miltn", "12 Main Street", "  "])
def test_an_unknown_municipality_is_rejected_naming_the_accepted_spellings(typed: str) -> None:
    result = run(referral(summary=written(typed)))
    assert (result.district, result.municipality) == (None, None)
    assert codes(result) == [("municipality_unknown", "summary.municipality")]
    message = result.reasons[0].message
    for name in ("Acton", "Burlington", "Georgetown", "Glen Williams", "Halton Hills",
                 "Limehouse", "Milton", "Oakville", "Terra Cotta"):
        assert name in message
    for typed_word in ("Springfield", "Miltn", "Main Street"):  # never what the agency typed
        assert typed_word not in message
    assert "^" not in message
    assert "[a-z" not in message


def test_the_unknown_reason_fits_however_many_communities_the_data_lists(tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = folder / "districts.yaml"
    many = ", ".join(f"Hamlet Number {n}" for n in range(60))
    path.write_text(path.read_text("utf-8").replace(
        "communities: [Campbellville, Moffat]", f"communities: [Campbellville, Moffat, {many}]"),
        "utf-8")
    event = referral(summary=written("Springfield"))
    result = check(event, event.subject, reference=load(folder), directory=DIRECTORY, today=TODAY)
    (reason,) = result.reasons
    assert reason.code == "municipality_unknown"
    assert len(reason.message) <= 500
    assert "Halton Hills, Milton, Oakville or one of their communities" in reason.message


def test_an_agency_not_in_the_directory_is_rejected() -> None:
    assert codes(run(referral(agency_id="nobody-agency"))) == [("agency_unknown", "agency_id")]


def test_an_inactive_agency_is_rejected() -> None:
    result = run(referral(agency_id="town-oakville-legacy",
                          summary=summary(municipality="oakville")))
    assert codes(result) == [("agency_not_active", "agency_id")]


def test_an_agency_of_another_district_is_rejected() -> None:
    result = run(referral(agency_id="town-milton", summary=summary(municipality="burlington")))
    assert codes(result) == [("agency_not_member_of_district_table", "agency_id")]


def test_membership_respects_effective_dates() -> None:
    event = referral(agency_id="community-living")  # member from 2016-01-01
    assert run(event).ok
    early = check(event, event.subject, reference=reference(), directory=DIRECTORY,
                  today=date(2015, 6, 1))
    assert codes(early) == [("agency_not_active", "agency_id")]


def test_one_risk_factor_is_too_few() -> None:
    result = run(referral(summary=summary(risk_factors=("housing.eviction_risk",))))
    assert ("too_few_risk_factors", "summary.risk_factors") in codes(result)


def test_repeated_factor_counts_once() -> None:
    result = run(referral(summary=summary(risk_factors=("housing.eviction_risk",) * 2)))
    assert ("too_few_risk_factors", "summary.risk_factors") in codes(result)


def test_unknown_risk_factor_is_named_by_position() -> None:
    result = run(referral(summary=summary(risk_factors=(
        "mental_health.diagnosed_not_treated", "housing.eviction_risk", "housing.made_up"))))
    assert codes(result) == [("risk_factor_unknown", "summary.risk_factors.2")]


def test_thresholds_are_configurable() -> None:
    event = referral(summary=summary(risk_factors=("housing.eviction_risk",)))
    assert run(event, config=RuleConfig(min_risk_factors=1, min_sectors=1)).ok
    strict = run(referral(), config=RuleConfig(min_risk_factors=3, min_sectors=9))
    assert [c for c, _ in codes(strict)] == ["too_few_risk_factors", "too_few_sectors"]


def test_too_few_sectors_is_rejected() -> None:
    reach = len(reference().sectors_for(("mental_health.diagnosed_not_treated",
                                         "mental_health.suspected")))
    result = run(referral(summary=summary(risk_factors=(
        "mental_health.diagnosed_not_treated", "mental_health.suspected"))),
        config=RuleConfig(min_sectors=reach + 1))
    assert codes(result) == [("too_few_sectors", "summary.risk_factors")]


@pytest.mark.parametrize("test_name", ["significant_interest", "probable_harm", "severe_harm",
                                       "multi_disciplinary"])
def test_each_missing_aer_test_is_a_reason(test_name: str) -> None:
    aer = AerAttestation(**{**sample(ReferralSubmitted).aer.model_dump(), test_name: False})
    assert codes(run(referral(aer=aer))) == [("aer_attestation_incomplete", f"aer.{test_name}")]


def test_an_attestation_after_submission_is_rejected() -> None:
    aer = sample(ReferralSubmitted).aer.model_copy(update={"attested_at": NOW + timedelta(hours=1)})
    assert codes(run(referral(aer=aer))) == [("aer_attested_after_submission", "aer.attested_at")]


def test_unknown_age_group_and_gender_are_rejected() -> None:
    persons = (PersonConcerned(age_group="age_25_29", gender="woman"),
               PersonConcerned(age_group="age_99_100", gender="martian"))
    assert codes(run(referral(summary=summary(persons=persons)))) == [
        ("age_group_unknown", "summary.persons.1.age_group"),
        ("gender_unknown", "summary.persons.1.gender"),
    ]


def test_unknown_protective_factor_and_study_flag_are_rejected() -> None:
    result = run(referral(summary=summary(protective_factors=("made_up",),
                                          study_flags=("made_up_too",))))
    assert codes(result) == [("protective_factor_unknown", "summary.protective_factors.0"),
                             ("study_flag_unknown", "summary.study_flags.0")]


def test_a_subject_without_a_person_is_rejected() -> None:
    subj = subject().model_copy(update={"people": ()})
    assert codes(run(referral(subject=subj))) == [("subject_name_missing", "subject.people")]


def test_a_subject_that_cannot_be_found_is_rejected() -> None:
    subj = Subject(people=(IdentifiedPerson(given_name="Testy", family_name="Fixture"),),
                   legal_basis="consent")
    assert codes(run(referral(subject=subj))) == [("subject_not_locatable", "subject")]


@pytest.mark.parametrize("update", [{"address": None, "location_description": "Bench by the pond"},
                                    {"address": None}])
def test_a_phone_or_a_location_description_is_enough(update: dict[str, Any]) -> None:
    assert run(referral(subject=subject().model_copy(update=update))).ok


def test_a_location_situation_needs_no_person() -> None:
    subj = Subject(location_description="Vacant lot behind the plaza", legal_basis="other")
    assert run(referral(subject=subj, summary=summary(situation_type="location"))).ok
    empty = Subject(legal_basis="other")
    assert run(referral(subject=empty, summary=summary(situation_type="location"))).ok


def test_the_narrative_may_not_name_the_subject() -> None:
    result = run(referral(summary=summary(narrative="Person was seen again near the arena.")))
    assert codes(result) == [("narrative_contains_subject_name", "summary.narrative")]


def test_the_narrative_may_not_name_the_subject_in_disguise() -> None:
    disguised = "P\u0435rs\u00adon was seen again near the arena."  # Cyrillic e, soft hyphen
    assert codes(run(referral(summary=summary(narrative=disguised)))) == [
        ("narrative_contains_subject_name", "summary.narrative"),
        ("narrative_contains_mixed_script", "summary.narrative")]


@pytest.mark.parametrize(("ref", "code"), [
    ("Sample-Person-1", "referral_ref_contains_subject_name"),
    ("905-555-0101", "referral_ref_contains_phone"),
    ("someone.at.example.org", "referral_ref_contains_email"),
])
def test_a_reference_that_identifies_is_rejected(ref: str, code: str) -> None:
    """The reference travels in keys, on the situation and in e-mail subjects."""
    assert codes(run(referral(referral_ref=ref))) == [(code, "referral_ref")]


def test_every_reason_is_reported_at_once() -> None:
    aer = AerAttestation(significant_interest=False, probable_harm=True, severe_harm=False,
                         multi_disciplinary=True, attested_at=NOW)
    event = referral(
        agency_id="nobody-agency", aer=aer,
        summary=summary(municipality="toronto", risk_factors=("housing.nope",),
                        persons=(PersonConcerned(age_group="old", gender="woman"),),
                        narrative="Call 905-555-0199 or write to someone@example.org."),
        subject=Subject(people=(), legal_basis="consent"),
    )
    found = {c for c, _ in codes(run(event))}
    assert found == {
        "municipality_outside_halton", "agency_unknown", "risk_factor_unknown",
        "too_few_risk_factors", "too_few_sectors", "aer_attestation_incomplete",
        "age_group_unknown", "narrative_contains_phone", "narrative_contains_email",
        "subject_name_missing", "subject_not_locatable",
    }


def test_no_message_echoes_personal_data() -> None:
    subj = subject()
    event = referral(summary=summary(narrative="Sample Person at 1 Example Street, 905 555 0100."),
                     subject=subj)
    for reason in run(event, subj).reasons:
        for secret in ("Sample", "Person", "Example Street", "555"):
            assert secret not in reason.message
