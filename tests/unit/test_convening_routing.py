"""Routing: every Halton municipality goes to its district's table; others are refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from directory import Directory, load_directory
from schemas.errors import RuleViolation
from schemas.reference import reference
from schemas.situations import SituationOpened
from services.convening.routing import Routed, Unroutable, brief, risk_categories, route
from tests.support.samples import NOW, sample, summary

pytestmark = pytest.mark.unit

HALTON = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "halton.yaml"


@pytest.fixture(scope="module")
def halton() -> Directory:
    return load_directory(HALTON)


@pytest.mark.parametrize(
    ("municipality", "district"),
    [
        ("acton", "district_1"),
        ("georgetown", "district_1"),
        ("halton_hills", "district_1"),
        ("milton", "district_1"),
        ("oakville", "district_2"),
        ("burlington", "district_3"),
        ("Town of Milton", "district_1"),
        ("City of Burlington", "district_3"),
    ],
)
def test_each_municipality_routes_to_its_district_table(
    halton: Directory, municipality: str, district: str
) -> None:
    routed = route(municipality, reference(), halton)
    assert isinstance(routed, Routed)
    assert routed.district == district
    assert routed.table.district == district


def test_every_reference_municipality_has_a_table(halton: Directory) -> None:
    for code in reference().codes("municipalities"):
        assert isinstance(route(code, reference(), halton), Routed), code


@pytest.mark.parametrize("municipality", ["hamilton", "mississauga", "toronto", ""])
def test_outside_halton_is_unroutable_with_a_reason(halton: Directory, municipality: str) -> None:
    routed = route(municipality, reference(), halton)
    assert isinstance(routed, Unroutable)
    assert routed.code == "municipality_outside_halton"
    assert "not served by a Halton district" in routed.message


def test_a_district_missing_from_the_directory_is_reported(halton: Directory) -> None:
    partial = halton.model_copy(update={"tables": halton.tables[:1]})
    routed = route("oakville", reference(), partial)
    assert isinstance(routed, Unroutable)
    assert routed.code == "district_without_table"


def test_risk_categories_of_factor_codes() -> None:
    assert risk_categories(["mental_health.a", "housing.b", "mental_health.c"]) == (
        "housing",
        "mental_health",
    )


def test_a_brief_places_a_situation_from_when_convening_sees_it(halton: Directory) -> None:
    event = sample(SituationOpened, district="district_1", opened_at=NOW)
    table, brief_ = brief(event, reference(), halton, NOW + timedelta(days=3))
    assert table.district == "district_1"
    assert brief_.arrived_at == NOW + timedelta(days=3), "never on a meeting already past"
    assert brief_.risk_categories == ("housing", "mental_health")
    assert brief(event, reference(), halton, NOW - timedelta(days=1))[1].arrived_at == NOW


def test_a_brief_refuses_what_no_table_takes_or_names_the_wrong_district(halton: Directory) -> None:
    outside = sample(SituationOpened, summary=summary().model_copy(update={"municipality": "toronto"}))
    with pytest.raises(RuleViolation, match="municipality_outside_halton"):
        brief(outside, reference(), halton, NOW)
    wrong = sample(SituationOpened, district="district_2")  # the sample is in Milton (district 1)
    with pytest.raises(RuleViolation, match="served by district_1"):
        brief(wrong, reference(), halton, NOW)
