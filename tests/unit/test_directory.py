"""The directory: loading halton.yaml, validation errors, queries and reloading."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
from datetime import date, time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from pydantic import ValidationError

from directory import (
    AgencyType,
    Channel,
    ContactRole,
    Directory,
    DirectoryHolder,
    ReferenceCodes,
    Status,
    category_sectors,
    check_codes,
    load_directory,
    parse_directory,
    reference_codes,
)
from directory.model import CMB_ROLES
from schemas.errors import ConfigurationError

pytestmark = pytest.mark.unit

HALTON = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "halton.yaml"
KEY = base64.b64encode(bytes(32)).decode()


def _contact(role: str, address: str, channel: str = "email") -> dict[str, Any]:
    return {"role": role, "channel": channel, "address": address}


def _cmb(district: str = "district_1", **extra: Any) -> dict[str, Any]:
    return {
        "id": "00000000-0000-4000-8000-000000000001",
        "agency_id": "cmb-d1",
        "name": "CMB (synthetic)",
        "agency_type": "police_cmb",
        "sectors": ["police"],
        "districts": [district],
        "public_key": KEY,
        "signing_key": KEY,
        "effective_from": "2020-01-01",
        "contacts": [_contact(r.value, f"{r.value}@police.example.org") for r in CMB_ROLES],
        **extra,
    }


def _partner(**extra: Any) -> dict[str, Any]:
    return {
        "id": "00000000-0000-4000-8000-000000000002",
        "agency_id": "housing",
        "name": "Housing (synthetic)",
        "agency_type": "housing",
        "sectors": ["housing"],
        "risk_categories": ["housing"],
        "districts": ["district_1"],
        "public_key": KEY,
        "signing_key": KEY,
        "effective_from": "2020-01-01",
        "contacts": [_contact("table_representative", "table@housing.example.org")],
        **extra,
    }


def _doc(**extra: Any) -> dict[str, Any]:
    return {
        "version": "test",
        "intake": {"signing_key": KEY},
        "tables": [
            {
                "district": "district_1",
                "cadence": {"weekday": "tuesday", "local_time": "09:30"},
                "location": "Station (synthetic)",
            }
        ],
        "organizations": [_cmb(), _partner()],
        **extra,
    }


def _problem(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_directory(yaml.safe_dump(doc), "test.yaml")
    return str(caught.value)


@pytest.fixture(scope="module")
def halton() -> Directory:
    return load_directory(HALTON)


# -- halton.yaml ---------------------------------------------------------------------------


def test_halton_has_a_table_and_one_cmb_with_every_role_per_district(halton: Directory) -> None:
    assert [t.district for t in halton.tables] == ["district_1", "district_2", "district_3"]
    for table in halton.tables:
        cmb = halton.cmb(table.district, date(2025, 6, 1))
        assert cmb is not None
        assert cmb.agency_type is AgencyType.POLICE_CMB
        assert {c.role for c in cmb.contacts} >= CMB_ROLES


def test_halton_has_every_partner_type_of_the_domain(halton: Directory) -> None:
    assert {o.agency_type for o in halton.organizations} == set(AgencyType)
    assert all("(synthetic" in o.name for o in halton.organizations)


def test_halton_addresses_are_role_addresses_on_example_domains(halton: Directory) -> None:
    for org in halton.organizations:
        for contact in org.contacts:
            host = contact.address.split("@")[-1].split("//")[-1].split("/")[0]
            assert host.endswith(".example.org")


def test_halton_test_keys_are_derived_from_the_documented_seed(halton: Directory) -> None:
    for org in halton.organizations:
        seed = hashlib.sha256(b"commande-synthetic-test-key/" + org.agency_id.encode()).digest()
        assert base64.b64encode(bytes(PrivateKey(seed).public_key)).decode() == org.public_key


def test_halton_signing_keys_are_derived_from_the_documented_seed(halton: Directory) -> None:
    def derived(name: str) -> str:
        seed = hashlib.sha256(b"commande-synthetic-signing-key/" + name.encode()).digest()
        return base64.b64encode(bytes(SigningKey(seed).verify_key)).decode()

    for org in halton.organizations:
        assert org.signing_key == derived(org.agency_id)
    assert halton.intake.signing_key == derived("intake")
    assert halton.intake.previous_signing_keys == ()
    all_keys = [o.signing_key for o in halton.organizations] + [halton.intake.signing_key]
    assert len(set(all_keys)) == len(all_keys)
    assert not set(all_keys) & {o.public_key for o in halton.organizations}


def test_halton_table_settings(halton: Directory) -> None:
    d1 = halton.table("district_1")
    assert d1 is not None
    assert d1.cadence.frequency == "biweekly"
    assert d1.cadence.local_time == time(9, 30)
    assert d1.cutoff_hours == 24
    assert d1.agenda_lead_time_hours == 24
    assert {t.identity_release_stage for t in halton.tables} <= {"filter_3", "filter_4"}
    assert halton.table("district_9") is None


# -- queries -------------------------------------------------------------------------------


def test_members_are_active_on_the_date_cmb_first_then_by_name(halton: Directory) -> None:
    members = halton.members("district_2", date(2025, 6, 1))
    assert members[0].agency_type is AgencyType.POLICE_CMB
    names = [m.name.casefold() for m in members[1:]]
    assert names == sorted(names)
    ids = {m.agency_id for m in members}
    assert "town-oakville-legacy" not in ids  # inactive since 2019
    assert "town-milton" not in ids  # serves district 1 only


def test_effective_dates_bound_membership(halton: Directory) -> None:
    org = halton.organization("community-living")
    assert org is not None
    assert not org.is_active(date(2015, 12, 31))
    assert org.is_active(date(2016, 1, 1))
    assert "community-living" not in {m.agency_id for m in halton.members("district_1", date(2015, 6, 1))}


def test_inactive_status_and_effective_to(halton: Directory) -> None:
    legacy = halton.organization("town-oakville-legacy")
    assert legacy is not None
    assert not legacy.is_active(date(2018, 1, 1))  # status inactive wins
    active = legacy.model_copy(update={"status": Status.ACTIVE})
    assert active.is_active(date(2019, 12, 31))
    assert not active.is_active(date(2020, 1, 1))


def test_lookup_by_uuid_and_slug_and_contacts_by_role(halton: Directory) -> None:
    org = halton.organization("housing-services")
    assert org is not None
    assert halton.organization(org.id) == org
    assert halton.organization(UUID(int=0)) is None
    assert halton.organization("nobody") is None
    disclosures = halton.contacts("housing-services", ContactRole.DISCLOSURES)
    assert [c.channel for c in disclosures] == [Channel.WEBHOOK]
    intake = halton.contacts(org.id, ContactRole.INTAKE)
    assert intake[0].preferences.email_copy_of_referral_rejected
    assert halton.contacts("nobody", ContactRole.INTAKE) == ()
    assert halton.contacts("housing-services", ContactRole.STAFF_SERGEANT) == ()


def test_directory_is_frozen(halton: Directory) -> None:
    with pytest.raises(ValidationError):
        halton.organizations[0].name = "changed"  # type: ignore[misc]


# -- validation ----------------------------------------------------------------------------


def test_minimal_document_is_valid() -> None:
    directory = parse_directory(yaml.safe_dump(_doc()), "test.yaml")
    assert directory.cmb("district_1", date(2021, 1, 1)) is not None
    assert directory.cmb("district_1", date(2019, 1, 1)) is None


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["organizations"][1].update(id=d["organizations"][0]["id"]), "duplicate organization id"),
        (lambda d: d["organizations"][1].update(agency_id="cmb-d1"), "duplicate agency_id"),
        (lambda d: d["organizations"][1].update(name="CMB (synthetic)"), "duplicate organization name"),
        (
            lambda d: d["organizations"][1].update(public_key=base64.b64encode(b"x" * 31).decode()),
            "organizations[1].public_key",
        ),
        (lambda d: d["organizations"][1].update(public_key="not base64!"), "not valid base64"),
        (
            lambda d: d["organizations"][1].update(signing_key=base64.b64encode(b"x" * 33).decode()),
            "signing_key decodes to 33 bytes, an Ed25519 key has 32",
        ),
        (lambda d: d["organizations"][1].pop("signing_key"), "organizations[1].signing_key"),
        (lambda d: d.pop("intake"), "intake: Field required"),
        (lambda d: d["intake"].update(signing_key="not base64!"), "intake.signing_key is not"),
        (
            lambda d: d["intake"].update(previous_signing_keys=["AAAA"]),
            "intake.previous_signing_keys decodes to 3 bytes",
        ),
        (
            lambda d: d["organizations"][1]["contacts"][0].update(address="nobody"),
            "organizations[1].contacts[0]",
        ),
        (
            lambda d: d["organizations"][1]["contacts"][0].update(
                channel="webhook", address="http://hooks.example.org/x"
            ),
            "not an https:// URL",
        ),
        (
            lambda d: d["organizations"][0].update(contacts=[_contact("sergeant", "s@p.example.org")]),
            "a police CMB needs contacts",
        ),
        (
            lambda d: d["organizations"][1].update(effective_to="2019-01-01"),
            "effective_to is before effective_from",
        ),
        (
            lambda d: d["organizations"][1].update(districts=["district_2"]),
            "serves districts without a table",
        ),
        (lambda d: d["organizations"][1].update(colour="blue"), "organizations[1].colour"),
        (lambda d: d["organizations"][1].update(agency_type="bakery"), "agency_type"),
        (lambda d: d["organizations"][1].update(sectors=[]), "organizations[1].sectors"),
        (lambda d: d["organizations"][1].update(sectors=["Not A Code"]), "sectors[0]"),
        (
            lambda d: d["tables"][0]["cadence"].update(frequency="biweekly"),
            "a biweekly cadence needs an anchor_date",
        ),
        (lambda d: d["tables"][0]["cadence"].update(anchor_date="2025-01-08"), "is not a tuesday"),
        (lambda d: d["tables"][0]["cadence"].update(local_time=600), "must be a quoted"),
        (
            lambda d: d["tables"][0].update(identity_release_stage="filter3"),
            "tables[0].identity_release_stage",
        ),
        (lambda d: d["tables"][0].update(cutoff_hours=-1), "tables[0].cutoff_hours"),
        (lambda d: d.update(tables=[]), "tables"),
        (lambda d: d["organizations"].pop(0), "has no police_cmb"),
        (
            lambda d: d["organizations"].append(
                _cmb(id="00000000-0000-4000-8000-000000000003", agency_id="cmb-b", name="CMB B")
            ),
            "two CMBs at once",
        ),
    ],
)
def test_invalid_directories_name_file_path_and_problem(mutate: Any, expected: str) -> None:
    doc = copy.deepcopy(_doc())
    mutate(doc)
    message = _problem(doc)
    assert message.startswith("test.yaml: ")
    assert expected in message


def test_successive_cmbs_may_hand_over() -> None:
    doc = _doc()
    doc["organizations"][0]["effective_to"] = "2022-12-31"
    doc["organizations"].append(
        _cmb(
            id="00000000-0000-4000-8000-000000000003",
            agency_id="cmb-new",
            name="CMB new",
            effective_from="2023-01-01",
        )
    )
    directory = parse_directory(yaml.safe_dump(doc), "test.yaml")
    old, new = directory.cmb("district_1", date(2022, 6, 1)), directory.cmb("district_1", date(2023, 6, 1))
    assert old is not None
    assert new is not None
    assert (old.agency_id, new.agency_id) == ("cmb-d1", "cmb-new")


def test_unparseable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_directory(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.yaml: not valid YAML"):
        load_directory(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        load_directory(bad)


def test_unknown_reference_codes_are_reported_with_paths() -> None:
    codes = ReferenceCodes(
        districts=frozenset({"district_1"}),
        sectors=frozenset({"police"}),
        risk_categories=frozenset(),
    )
    directory = parse_directory(yaml.safe_dump(_doc()), "test.yaml")
    assert check_codes(directory, codes) == [
        "organizations[1].sectors[0]: unknown code 'housing' (Housing (synthetic))",
        "organizations[1].risk_categories[0]: unknown code 'housing' (Housing (synthetic))",
    ]
    with pytest.raises(ConfigurationError, match="codes not in the reference data"):
        parse_directory(yaml.safe_dump(_doc()), "test.yaml", codes)


# -- reloading -----------------------------------------------------------------------------


def _write(path: Path, doc: dict[str, Any], mtime_ns: int) -> None:
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_holder_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    _write(path, _doc(), 1_000_000_000)
    holder = DirectoryHolder(path)
    assert holder.current().version == "test"
    _write(path, _doc(version="second"), 2_000_000_000)
    assert holder.current().version == "second"
    assert holder.last_error is None


def test_holder_keeps_the_last_good_directory_on_a_broken_edit(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    _write(path, _doc(), 1_000_000_000)
    holder = DirectoryHolder(path)
    path.write_text("version: [", encoding="utf-8")
    os.utime(path, ns=(3_000_000_000, 3_000_000_000))
    assert holder.current().version == "test"
    assert holder.last_error is not None
    assert str(path) in str(holder.last_error)
    _write(path, _doc(version="fixed"), 4_000_000_000)
    assert holder.current().version == "fixed"
    assert holder.last_error is None


def test_holder_first_load_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        DirectoryHolder(tmp_path / "missing.yaml")


# -- reference data ------------------------------------------------------------------------


def test_every_code_in_halton_exists_in_the_reference_data(halton: Directory) -> None:
    from schemas.reference import reference

    assert check_codes(halton, reference_codes(reference())) == []
    load_directory(HALTON, reference_codes(reference()))  # the loader checks them too


def test_every_district_of_the_reference_data_has_a_table(halton: Directory) -> None:
    from schemas.reference import reference

    assert {t.district for t in halton.tables} == reference().codes("districts")


def test_each_partner_has_a_sector_acting_on_each_of_its_risk_categories(
    halton: Directory,
) -> None:
    from schemas.reference import reference

    taxonomy = category_sectors(reference())
    for org in halton.organizations:
        for category in org.risk_categories:
            assert set(org.sectors) & taxonomy[category], (org.agency_id, category)
