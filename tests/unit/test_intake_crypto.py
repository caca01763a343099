"""The vault cipher (AES-256-GCM, key ids) and the sealed boxes (PyNaCl)."""

from __future__ import annotations

import base64
import json
import os
from uuid import UUID

import pytest

from directory import load_directory
from schemas.errors import ConfigurationError
from schemas.referrals import IdentifiedPerson, Subject
from services.intake.retention import immediate_purge_reason
from services.intake.sealing import (
    SealingError,
    WrongKey,
    development_private_key,
    disclosure_package,
    key_id,
    open_sealed,
    open_subject,
    public_key_from_b64,
    seal,
    seal_subject,
    select_fields,
)
from services.intake.settings import DEFAULT_DISCLOSURE_FIELDS
from services.intake.vault import CipherError, Sealed, Vault, decode_key
from services.runtime.settings import PROJECT_ROOT
from tests.support.samples import subject

pytestmark = pytest.mark.unit

SID = UUID("0194a1b2-0000-7000-8000-0000000000aa")
OTHER = UUID("0194a1b2-0000-7000-8000-0000000000bb")


def test_the_vault_round_trips_and_hides_the_subject() -> None:
    vault = Vault("k1", {"k1": os.urandom(32)})
    sealed = vault.encrypt(SID, subject())
    assert sealed.key_id == "k1"
    assert len(sealed.nonce) == 12
    assert b"Sample" not in sealed.ciphertext
    assert b"555" not in sealed.ciphertext
    assert vault.decrypt(SID, sealed) == subject()


def test_a_ciphertext_moved_to_another_row_does_not_decrypt() -> None:
    vault = Vault("k1", {"k1": os.urandom(32)})
    with pytest.raises(CipherError, match="failed authentication"):
        vault.decrypt(OTHER, vault.encrypt(SID, subject()))


def test_rotation_keeps_old_rows_readable_and_writes_with_the_new_key() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed = Vault("k1", {"k1": old}).encrypt(SID, subject())
    rotated = Vault("k2", {"k2": new, "k1": old})
    assert rotated.decrypt(SID, sealed) == subject()
    assert rotated.encrypt(SID, subject()).key_id == "k2"
    with pytest.raises(CipherError, match="k1"):
        Vault("k2", {"k2": new}).decrypt(SID, sealed)
    assert rotated.fingerprint(b"x", "k1") == Vault("k1", {"k1": old}).fingerprint(b"x")


def test_a_tampered_row_fails() -> None:
    vault = Vault("k1", {"k1": os.urandom(32)})
    sealed = vault.encrypt(SID, subject())
    broken = Sealed(sealed.key_id, sealed.nonce, bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:])
    with pytest.raises(CipherError):
        vault.decrypt(SID, broken)


@pytest.mark.parametrize(("text", "match"), [("not base64!", "base64"),
                                             (base64.b64encode(b"short").decode(), "32 bytes")])
def test_bad_vault_keys_are_configuration_errors(text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        decode_key(text, "COMMANDE_VAULT_KEY")


def test_the_fingerprint_is_keyed() -> None:
    a, b = Vault("k", {"k": os.urandom(32)}), Vault("k", {"k": os.urandom(32)})
    assert a.fingerprint(b"same") == a.fingerprint(b"same") != b.fingerprint(b"same")


def test_a_sealed_subject_opens_with_intakes_key_only() -> None:
    intake = development_private_key("intake")
    sealed = seal_subject(subject(), intake.public_key)
    assert open_subject(sealed, intake) == subject()
    with pytest.raises(WrongKey, match="not sealed for this key"):
        open_subject(sealed, development_private_key("someone-else"))


def test_a_sealed_non_subject_is_a_sealing_error() -> None:
    intake = development_private_key("intake")
    with pytest.raises(SealingError, match="not a valid subject"):
        open_subject(seal(b'{"people": 3}', intake.public_key), intake)


def test_the_directory_test_keys_are_the_documented_derivation() -> None:
    directory = load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")
    for org in directory.organizations:
        derived = development_private_key(org.agency_id).public_key
        assert bytes(derived) == bytes(public_key_from_b64(org.public_key))


def test_the_lead_gets_its_allow_list_and_assisting_less() -> None:
    subj = subject()
    lead_fields, lead = select_fields(subj, DEFAULT_DISCLOSURE_FIELDS["lead"])
    assert lead_fields == ("subject.people.given_name", "subject.people.family_name",
                           "subject.people.phone", "subject.address", "subject.languages",
                           "subject.safety_notes")
    assert lead["people"] == [{"given_name": "Sample", "family_name": "Person",
                               "phone": "+1 905 555 0100"}]
    helper_fields, helper = select_fields(subj, DEFAULT_DISCLOSURE_FIELDS["assisting"])
    assert helper_fields == ("subject.people.given_name", "subject.people.family_name",
                             "subject.languages")
    assert set(helper) == {"people", "languages"}
    assert "date_of_birth" not in json.dumps(lead) + json.dumps(helper)
    assert "1990" not in json.dumps(lead)


def test_absent_fields_are_not_listed_as_disclosed() -> None:
    subj = Subject(people=(IdentifiedPerson(given_name="A", family_name="B"),),
                   location_description="Park", legal_basis="consent")
    fields, package = select_fields(subj, DEFAULT_DISCLOSURE_FIELDS["lead"])
    assert fields == ("subject.people.given_name", "subject.people.family_name",
                      "subject.location_description")
    assert package["people"] == [{"given_name": "A", "family_name": "B"}]


def test_a_disclosure_opens_for_its_recipient_and_fails_clearly_for_another() -> None:
    lead = development_private_key("housing-services")
    _, package = select_fields(subject(), DEFAULT_DISCLOSURE_FIELDS["lead"])
    text = seal(disclosure_package(str(SID), "d", "housing-services", "lead", "consent", package),
                lead.public_key)
    assert json.loads(open_sealed(text, lead))["subject"] == package
    wrong = development_private_key("public-health")
    with pytest.raises(WrongKey, match=key_id(wrong.public_key)):
        open_sealed(text, wrong)


def test_key_ids_are_32_hex() -> None:
    kid = key_id(development_private_key("intake").public_key)
    assert len(kid) == 32
    assert int(kid, 16) >= 0


@pytest.mark.parametrize(("conclusion", "reason"), [
    ("rejected_not_aer", "rejected_not_aer"), ("returned_to_originator", "returned"),
    ("withdrawn", "withdrawn"), ("risk_lowered_other", None), ("still_aer_other", None),
    ("not_a_code", None)])
def test_which_conclusions_purge_at_once(conclusion: str, reason: str | None) -> None:
    from schemas.reference import reference

    assert immediate_purge_reason(conclusion, reference()) == reason


def test_intake_may_require_the_sealed_subject() -> None:
    from datetime import timedelta

    from directory import DirectoryHolder
    from schemas.reference import reference
    from schemas.referrals import PersonConcerned, ReferralSubmitted, SituationSummary
    from services.intake.handlers import Intake
    from services.intake.rules import RuleConfig
    from services.intake.signing import development_signing_key
    from services.runtime.clock import ManualClock
    from tests.support.samples import NOW, sample

    key = development_private_key("intake")
    intake = Intake(clock=ManualClock(NOW), vault=Vault.development(), intake_key=key,
                    signing_key=development_signing_key("intake"),
                    directory=DirectoryHolder(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"),
                    reference=reference(), config=RuleConfig(), require_sealed=True,
                    disclosure_fields=dict(DEFAULT_DISCLOSURE_FIELDS), retention_days=90)
    summary = SituationSummary(
        situation_type="individual", municipality="milton",
        persons=(PersonConcerned(age_group="age_25_29", gender="woman"),),
        risk_factors=("mental_health.diagnosed_not_treated", "housing.eviction_risk"),
        narrative="Repeated crisis contacts; eviction notice served.")
    clear = sample(ReferralSubmitted, agency_id="mental-health-assoc", summary=summary)
    _, checked = intake.check(clear, NOW + timedelta(minutes=1))
    assert [(r.code, r.field) for r in checked.reasons] == [("subject_must_be_sealed", "subject")]
    sealed = clear.model_copy(update={"subject": None,
                                      "sealed_subject": seal_subject(subject(), key.public_key)})
    opened, checked = intake.check(sealed, NOW + timedelta(minutes=1))
    assert checked.ok
    assert opened == subject()
