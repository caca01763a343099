"""Who receives which identified fields of a situation (the pure core of a disclosure)."""

from __future__ import annotations

from datetime import date

import pytest

from directory import load_directory
from services.intake import disclosure
from services.intake.settings import DEFAULT_DISCLOSURE_FIELDS
from services.runtime.settings import PROJECT_ROOT
from tests.support.samples import subject

pytestmark = pytest.mark.unit

DIRECTORY = load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")
ON = date(2026, 1, 5)
FIELDS = dict(DEFAULT_DISCLOSURE_FIELDS)


def test_an_active_member_of_the_table_is_the_recipient() -> None:
    org = disclosure.recipient("housing-services", "lead", "filter_3", "district_1", DIRECTORY, ON)
    assert not isinstance(org, disclosure.Withhold)
    assert org.agency_id == "housing-services"


@pytest.mark.parametrize(("agency", "role", "district", "code"), [
    ("hrps-cmb-d2", "lead", "district_1", "not_active_member"),
    ("housing-services", "observer", "district_1", "role_not_allowed"),
    ("housing-services", "lead", "district_9", "district_has_no_table"),
])
def test_an_agency_that_may_not_receive_identity_is_withheld_with_why(
        agency: str, role: str, district: str, code: str) -> None:
    assert disclosure.recipient(agency, role, "filter_3", district, DIRECTORY, ON) == \
        disclosure.Withhold(code)


def test_each_role_gets_its_allowed_fields_at_the_tables_stage() -> None:
    lead = disclosure.release(subject(), "lead", "filter_3", FIELDS)
    helper = disclosure.release(subject(), "assisting", "filter_4", FIELDS)
    assert isinstance(lead, disclosure.Release)
    assert isinstance(helper, disclosure.Release)
    assert (lead.stage, helper.stage) == (3, 4)
    assert (lead.purpose, helper.purpose) == (disclosure.PURPOSES["lead"],
                                              disclosure.PURPOSES["assisting"])
    assert lead.legal_basis == subject().legal_basis
    assert "subject.address" in lead.fields
    assert "subject.address" not in helper.fields
    assert set(helper.package) <= {"people", "languages"}


def test_a_role_with_no_allowed_field_present_gets_nothing() -> None:
    assert disclosure.release(subject(), "lead", "filter_3", {"lead": ()}) == \
        disclosure.Withhold(disclosure.NO_ALLOWED_FIELD)
    assert disclosure.release(subject(), "assisting", "filter_3", {}) == \
        disclosure.Withhold(disclosure.NO_ALLOWED_FIELD)
