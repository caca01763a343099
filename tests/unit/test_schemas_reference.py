"""Reference data: the YAML files load, validate, cross-check and answer domain questions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.errors import ConfigurationError
from schemas.reference import Reference, load, reference
from schemas.reference.loader import HERE

pytestmark = pytest.mark.unit


def test_reference_is_cached_frozen_and_versioned() -> None:
    ref = reference()
    assert reference() is ref
    assert isinstance(ref, Reference)
    assert all(version >= 1 for version in ref.versions.values())
    assert "risk_taxonomy" in ref.provisional
    with pytest.raises(ValidationError):
        ref.districts = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "district"),
    [
        ("Acton", "1 District"), ("Georgetown", "1 District"), ("Halton Hills", "1 District"),
        ("halton_hills", "1 District"), ("Town of Halton Hills", "1 District"),
        ("Milton", "1 District"), ("Oakville", "2 District"), ("burlington", "3 District"),
    ],
)
def test_municipalities_route_to_their_district(name: str, district: str) -> None:
    found = reference().district_for(name)
    assert found is not None
    assert found.name == district


@pytest.mark.parametrize("name", ["Toronto", "Hamilton", "", "Mississauga"])
def test_places_outside_halton_have_no_district(name: str) -> None:
    assert reference().district_for(name) is None


def test_divisions_match_the_public_table() -> None:
    ref = reference()
    divisions = {m.code: m.division for d in ref.districts for m in d.municipalities}
    assert divisions == {
        "acton": 10, "georgetown": 11, "halton_hills": None, "milton": 12,
        "oakville": 20, "burlington": 30,
    }


def test_risk_taxonomy_size_and_shape() -> None:
    ref = reference()
    assert 25 <= len(ref.risk_categories) <= 30
    assert 90 <= len(ref.risk_factors) <= 110
    verified = {c.code for c in ref.risk_categories if not c.provisional}
    assert {"mental_health", "housing", "drugs", "alcohol", "elder_abuse"} <= verified
    # Only factors checked against the booklet lose the mark, and only in verified categories.
    checked = {code for code, f in ref.risk_factors.items() if not f.provisional}
    assert checked == {"antisocial_behaviour.person", "antisocial_behaviour.household",
                       "basic_needs.unmet_care", "basic_needs.neglecting_others"}
    assert {code.split(".", 1)[0] for code in checked} <= verified
    assert all(f.definition for f in ref.risk_factors.values())


def test_neglecting_others_has_the_booklets_definition_not_the_web_copys() -> None:
    ref = reference()
    neglect = ref.risk_factors["basic_needs.neglecting_others"]
    own = ref.risk_factors["basic_needs.unmet_care"]
    assert "others under their care" in neglect.definition
    assert neglect.definition != own.definition
    assert "own" not in neglect.definition


def test_protective_factors_are_grouped_by_appendix_f_category() -> None:
    ref = reference()
    groups = {c.code: c for c in ref.protective_categories}
    verified = {code for code, c in groups.items() if not c.provisional}
    assert verified == {"employment_financial", "housing_neighbourhood", "mental_health"}
    assert {f.code for f in groups["employment_financial"].factors} == {
        "positive_work_environment", "stable_employment", "temporary_financial_support",
        "work_life_balance"}
    assert len(groups["housing_neighbourhood"].factors) == 6
    assert len(groups["mental_health"].factors) == 6
    # Every factor knows its category; a factor is verified exactly when its category is.
    for factor in ref.protective_factors:
        assert factor.category in groups
        assert factor in [f.model_copy(update={"category": factor.category})
                          for f in groups[factor.category].factors]
        assert factor.provisional == groups[factor.category].provisional
    assert ref.codes("protective_factors") == {f.code for f in ref.protective_factors}
    assert "stable_housing" not in ref.codes("protective_factors")  # retired in version 2


def test_a_verified_protective_factor_in_a_provisional_category_fails_the_load(
        tmp_path: Path) -> None:
    for source in HERE.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "protective_factors.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{code: family_support, name: Supportive family, provisional: true",
                                 "{code: family_support, name: Supportive family, provisional: false"),
                    encoding="utf-8")
    with pytest.raises(ConfigurationError, match="family_support is marked verified"):
        load(tmp_path)


def test_sectors_acting_on_factors() -> None:
    ref = reference()
    assert ref.sectors_for(["housing.eviction_risk"]) == {
        "housing", "income_social_services", "municipal",
    }
    assert ref.sectors_for(["no.such_factor"]) == frozenset()


def test_conclusions_include_withdrawn_and_domain_codes() -> None:
    codes = reference().codes("conclusions")
    assert {"withdrawn", "rejected_not_aer", "returned_to_originator", "still_aer_other"} <= codes
    assert len(codes) == 10


def test_age_groups_and_legal_bases() -> None:
    ref = reference()
    assert [a.code for a in ref.age_groups][:8] == [
        "age_0_5", "age_6_11", "age_12_17", "age_18_24", "age_25_29", "age_30_39",
        "age_40_59", "age_60_plus",
    ]
    assert ref.codes("legal_bases") == {
        "consent", "mfippa_health_safety", "fippa_health_safety", "phipa_40_1",
        "cyfsa_part_x", "other",
    }


def test_fhir_task_transitions() -> None:
    tasks = reference().task_states
    assert tasks.can_move("requested", "accepted")
    assert tasks.can_move("in-progress", "on-hold")
    assert tasks.can_move("on-hold", "in-progress")
    assert not tasks.can_move("requested", "completed")
    assert not tasks.can_move("completed", "in-progress")
    assert tasks.can_move("completed", "entered-in-error")
    assert tasks.needs_reason("on-hold")
    assert not tasks.needs_reason("accepted")


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "reference"
    shutil.copytree(HERE, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def test_loader_rejects_an_unknown_sector(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "risk_taxonomy.yaml"
    path.write_text(path.read_text().replace("[addictions, mental_health, income_social_services]",
                                             "[addictions, astrology]"))
    with pytest.raises(ConfigurationError, match="astrology"):
        load(directory)


def test_loader_rejects_a_typo_and_a_missing_version(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    (directory / "genders.yaml").write_text("version: 1\ngenders:\n  - {code: x, nmae: X}\n")
    with pytest.raises(ConfigurationError, match="genders"):
        load(directory)
    (directory / "genders.yaml").write_text("genders: []\n")
    with pytest.raises(ConfigurationError, match="version"):
        load(directory)


def test_loader_rejects_a_municipality_in_two_districts(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "districts.yaml"
    path.write_text(path.read_text().replace("code: oakville", "code: milton"))
    with pytest.raises(ConfigurationError, match="two districts"):
        load(directory)


def test_event_request_lists_hold_the_codes_the_contract_samples_use() -> None:
    ref = reference()
    assert {"safety_awareness", "school_safety", "seniors_safety", "diversity_inclusion",
            "fraud_scams", "cyber_safety", "road_safety", "youth"} <= ref.codes("event_topics")
    assert {"no_capacity", "date_unavailable", "outside_mandate", "duplicate",
            "other"} <= ref.codes("event_decline_reasons")
    assert {"no_longer_needed", "submitted_in_error"} <= ref.codes("event_withdrawal_reasons")
    assert {"community_safety_officer", "cmb_officer",
            "school_resource_officer"} <= ref.codes("event_officer_roles")
    assert {"event_topics", "event_decline_reasons", "event_withdrawal_reasons",
            "event_officer_roles"} <= ref.provisional


def test_the_holidays_country_module_is_imported_with_the_calendar_not_at_the_first_lookup() -> None:
    # holidays.country_holidays imports the country's module at its first call (~90 ms): that
    # would be the first placement's, after each start of a service.
    probe = ("import sys; import schemas.reference.calendar; "
             "print('holidays.countries.canada' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).parents[2])
    assert found.stdout.strip() == "True"


def test_statutory_holidays_are_ontarios_with_their_observed_weekdays() -> None:
    holidays = reference().holiday_dates
    assert date(2026, 12, 28) in holidays  # Boxing Day 2026 falls on a Saturday
    assert holidays.name(date(2026, 12, 28)) == "Boxing Day (observed)"
    assert date(2027, 7, 1) in holidays  # Canada Day, a Thursday
    assert date(2027, 8, 2) not in holidays  # the Civic Holiday is not statutory in Ontario
    assert date(2031, 2, 17) in holidays  # Family Day: no list to extend each year
    assert date(2026, 12, 24) not in holidays
