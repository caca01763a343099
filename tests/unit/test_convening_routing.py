"""Routing: every Halton municipality goes to its district's table; others are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from directory import Directory, load_directory
from schemas.reference import reference
from services.convening.routing import Routed, Unroutable, risk_categories, route

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
