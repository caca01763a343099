"""Claims → principal → identity (through the directory) → the actor a command carries (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from directory import Directory, load_directory, reference_codes
from schemas.base import Actor
from schemas.reference import reference
from services.gateway.access import may_see_command, may_see_situation, table_districts
from services.gateway.identity import (
    Identity,
    NoAgency,
    agency_actor,
    chair_actor,
    cmb_actor,
    principal_from_claims,
    resolve,
)
from services.runtime.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

TODAY = date(2026, 1, 6)


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml",
                          reference_codes(reference()))


def who(directory: Directory, *groups: str) -> Identity:
    claims = {"sub": "c2c49f10-a879-4e1e-8374-c01c3a1abacf", "azp": "commande-people",
              "groups": list(groups)}
    return resolve(principal_from_claims(claims), directory, TODAY)


def test_groups_become_memberships_staff_and_leftovers() -> None:
    principal = principal_from_claims({
        "sub": "s", "azp": "commande-people",
        "groups": ["/agencies/hrps-cmb-d1/community_engagement_team", "/commande/analyst",
                   "/agencies/hrps-cmb-d1/community_engagement_team", "/somewhere/else", 42]})
    assert [(m.agency_id, m.role) for m in principal.memberships] == [
        ("hrps-cmb-d1", "community_engagement_team")]
    assert principal.staff == frozenset({"analyst"})
    assert principal.unrecognised == ("/somewhere/else",)
    assert principal.client_id == "commande-people"


@pytest.mark.parametrize("claims", [{"sub": "s"}, {"sub": "s", "groups": "hrps-cmb-d1"},
                                    {"sub": "s", "groups": None}])
def test_no_or_malformed_groups_mean_no_membership(claims: dict[str, object]) -> None:
    principal = principal_from_claims(claims)
    assert principal.memberships == ()
    assert principal.staff == frozenset()


def test_the_directory_confirms_agency_post_and_districts(directory: Directory) -> None:
    identity = who(directory, "/agencies/hrps-cmb-d2/community_engagement_team",
                   "/agencies/housing-services/table_representative")
    assert [(c.agency_id, c.role, c.districts) for c in identity.capacities] == [
        ("hrps-cmb-d2", "community_engagement_team", ("district_2",)),
        ("housing-services", "table_representative", ("district_1", "district_2", "district_3"))]
    assert identity.cmb_districts() == frozenset({"district_2"})
    assert identity.refused == ()


def test_what_the_directory_does_not_confirm_does_not_count(directory: Directory) -> None:
    identity = who(directory,
                   "/agencies/no-such-agency/table_representative",      # not in the directory
                   "/agencies/town-oakville-legacy/table_representative",  # a former member
                   "/agencies/housing-services/community_engagement_team",  # a CMB post elsewhere
                   "/agencies/housing-services/janitor")                  # not a role
    assert identity.capacities == ()
    assert len(identity.refused) == 4
    assert "not an agency of directory" in identity.refused[0]
    assert "not an active member" in identity.refused[1]
    assert "post of a police CMB only" in identity.refused[2]
    assert "not a role the directory knows" in identity.refused[3]


def test_a_district_chair_acts_as_table_chair(directory: Directory) -> None:
    chair = who(directory, "/agencies/hrps-cmb-d1/community_engagement_team")
    assert chair_actor(chair, "district_1") == Actor(agency_id="hrps-cmb-d1", role="table_chair")


def test_a_chair_of_another_district_is_still_named_as_chair(directory: Directory) -> None:
    """The gateway does not judge authority: convening refuses the 2 District chair on a 3
    District situation, and its CommandRejected names hrps-cmb-d2 acting as table_chair."""
    chair = who(directory, "/agencies/hrps-cmb-d2/community_engagement_team")
    assert chair_actor(chair, "district_3") == Actor(agency_id="hrps-cmb-d2", role="table_chair")


def test_a_chair_of_two_tables_acts_for_the_situations_district(directory: Directory) -> None:
    both = who(directory, "/agencies/hrps-cmb-d1/community_engagement_team",
               "/agencies/hrps-cmb-d3/community_engagement_team")
    assert chair_actor(both, "district_3") == Actor(agency_id="hrps-cmb-d3", role="table_chair")
    assert chair_actor(both, None) == Actor(agency_id="hrps-cmb-d1", role="table_chair")


def test_someone_who_is_not_a_chair_is_named_in_their_own_capacity(directory: Directory) -> None:
    sergeant = who(directory, "/agencies/hrps-cmb-d1/staff_sergeant")
    assert chair_actor(sergeant, "district_1") == Actor(agency_id="hrps-cmb-d1", role="cmb")
    contact = who(directory, "/agencies/housing-services/table_representative")
    assert chair_actor(contact, "district_1") == Actor(agency_id="housing-services", role="member")


def test_an_agency_acts_as_lead_or_assisting_where_it_holds_a_task(directory: Directory) -> None:
    contact = who(directory, "/agencies/housing-services/table_representative",
                  "/agencies/mental-health-assoc/table_representative")
    tasks = {"mental-health-assoc": "lead", "youth-mental-health": "assisting"}
    assert agency_actor(contact, tasks) == Actor(agency_id="mental-health-assoc",  # type: ignore[arg-type]
                                                 role="lead_agency")
    assert agency_actor(contact, {"housing-services": "assisting"}) == Actor(
        agency_id="housing-services", role="assisting_agency")
    assert agency_actor(contact, {}) == Actor(agency_id="housing-services", role="member")


def test_a_partner_system_acts_for_its_agency(directory: Directory) -> None:
    system = who(directory, "/agencies/mental-health-assoc/system")
    assert agency_actor(system, {"mental-health-assoc": "lead"}) == Actor(
        agency_id="mental-health-assoc", role="lead_agency")


def test_event_requests_are_followed_up_by_the_cmb_manager_or_staff_sergeant(directory: Directory) -> None:
    manager = who(directory, "/agencies/hrps-cmb-d1/cmb_manager")
    assert cmb_actor(manager, "district_1") == Actor(agency_id="hrps-cmb-d1", role="cmb")
    sergeant = who(directory, "/agencies/hrps-cmb-d3/staff_sergeant")
    assert cmb_actor(sergeant, None) == Actor(agency_id="hrps-cmb-d3", role="cmb")
    chair = who(directory, "/agencies/hrps-cmb-d1/community_engagement_team")
    assert cmb_actor(chair, "district_1") == Actor(agency_id="hrps-cmb-d1", role="table_chair")


def test_nobody_to_act_as_without_an_agency(directory: Directory) -> None:
    analyst = who(directory, "/commande/analyst")
    assert analyst.analyst
    for actor in (chair_actor(analyst, "district_1"), agency_actor(analyst, {}),
                  cmb_actor(analyst, None)):
        assert isinstance(actor, NoAgency)
        assert actor.code == "no_agency"


def test_who_sees_a_situations_timeline(directory: Directory) -> None:
    d1_sergeant = who(directory, "/agencies/hrps-cmb-d1/staff_sergeant")
    d2_chair = who(directory, "/agencies/hrps-cmb-d2/community_engagement_team")
    housing = who(directory, "/agencies/housing-services/table_representative")
    analyst = who(directory, "/commande/analyst")
    assert may_see_situation(d1_sergeant, "district_1", (), ())
    assert not may_see_situation(d2_chair, "district_1", (), ())
    assert not may_see_situation(housing, "district_1", (), ())
    assert may_see_situation(housing, "district_1", ("housing-services",), ())
    assert may_see_situation(housing, "district_1", (), ("housing-services",))
    assert may_see_situation(analyst, "district_3", (), ())


def test_tables_and_commands_are_ones_own(directory: Directory) -> None:
    housing = who(directory, "/agencies/housing-services/table_representative")
    d2_chair = who(directory, "/agencies/hrps-cmb-d2/community_engagement_team")
    analyst = who(directory, "/commande/analyst")
    districts = ["district_1", "district_2", "district_3"]
    assert table_districts(d2_chair, districts) == ["district_2"]
    assert table_districts(housing, districts) == districts
    assert table_districts(analyst, districts) == districts
    assert may_see_command(d2_chair, "hrps-cmb-d2")
    assert not may_see_command(d2_chair, "hrps-cmb-d1")
