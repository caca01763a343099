"""The signed bytes of a referral record and of a disclosure package (schemas.signing), and intake's
package signature (services.intake.signing): what they cover, and that any change breaks them."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from schemas.disclosures import DisclosureSealed
from schemas.envelope import Record, to_record
from schemas.referrals import ReferralSubmitted
from schemas.signing import (
    H_SIGNATURE,
    REFERRAL_TAG,
    SignatureError,
    canonical,
    decode_signature,
    disclosure_signing_bytes,
    record_signing_bytes,
    sign_record,
    signature_header,
    verifies,
)
from services.intake.signing import (
    UnsignedPackage,
    development_signing_key,
    sign_disclosure,
    verify_disclosure,
)
from tests.support.samples import sample

pytestmark = pytest.mark.unit

KEY = development_signing_key("housing-services")
OTHER = development_signing_key("public-health")
INTAKE = development_signing_key("intake")


def record() -> Record:
    return to_record(sample(ReferralSubmitted, agency_id="housing-services"),
                     source="/partners/housing-services")


def signature(rec: Record) -> bytes:
    found = signature_header(rec.headers)
    assert found is not None
    return found


def test_the_canonical_form_is_length_prefixed_parts_after_the_tag() -> None:
    assert canonical(b"t", [b"ab", b""]) == (b"\x00\x00\x00\x01t" b"\x00\x00\x00\x02ab"
                                             b"\x00\x00\x00\x00")


@given(st.lists(st.binary(max_size=8), max_size=5), st.lists(st.binary(max_size=8), max_size=5))
@settings(max_examples=300, deadline=None)
def test_different_parts_never_give_the_same_bytes(a: list[bytes], b: list[bytes]) -> None:
    assert (canonical(b"t", a) == canonical(b"t", b)) == (a == b)


def test_a_record_signature_covers_the_attributes_the_key_and_the_value_as_sent() -> None:
    rec = record()
    headers = dict(rec.headers)
    expected = canonical(REFERRAL_TAG, [headers["ce_id"], headers["ce_source"], headers["ce_type"],
                                        headers["ce_time"], rec.key, rec.value])
    assert record_signing_bytes(rec.headers, rec.key, rec.value) == expected
    signed = sign_record(rec, KEY)
    assert [n for n, _ in signed.headers].count(H_SIGNATURE) == 1
    assert KEY.verify_key.verify(expected, signature(signed))
    # the other headers (content-type, ce_subject, tracing) and their order are not signed
    shuffled = list(reversed([h for h in signed.headers if h[0] != "content-type"]))
    assert record_signing_bytes(shuffled, rec.key, rec.value) == expected


def test_signing_again_replaces_the_signature() -> None:
    twice = sign_record(sign_record(record(), OTHER), KEY)
    assert [n for n, _ in twice.headers].count(H_SIGNATURE) == 1
    assert verifies(record_signing_bytes(twice.headers, twice.key, twice.value),
                    signature(twice), [KEY.verify_key]) is not None


def _changed(rec: Record, part: str) -> Record:
    if part == "key":
        return replace(rec, key=rec.key + b"x")
    if part == "value":
        return replace(rec, value=rec.value.replace(b"routine", b"urgent"))
    headers = [(n, v + b"0" if n == part else v) for n, v in rec.headers]
    return replace(rec, headers=headers)


@pytest.mark.parametrize("part", ["ce_id", "ce_source", "ce_type", "ce_time", "key", "value"])
def test_any_change_to_a_signed_part_breaks_the_signature(part: str) -> None:
    signed = sign_record(record(), KEY)
    changed = _changed(signed, part)
    message = record_signing_bytes(changed.headers, changed.key, changed.value)
    assert verifies(message, signature(signed), [KEY.verify_key]) is None


@given(st.binary(min_size=1, max_size=200))
@settings(max_examples=100, deadline=None)
def test_a_signature_verifies_only_under_its_own_key(value: bytes) -> None:
    rec = sign_record(replace(record(), value=value), KEY)
    message = record_signing_bytes(rec.headers, rec.key, rec.value)
    assert verifies(message, signature(rec), [OTHER.verify_key, INTAKE.verify_key]) is None
    assert verifies(message, signature(rec), [OTHER.verify_key, KEY.verify_key]) == KEY.verify_key


@pytest.mark.parametrize(("headers", "match"), [
    ([(H_SIGNATURE, b"not base64!")], "not valid base64"),
    ([(H_SIGNATURE, base64.b64encode(b"x" * 63))], "has 64 bytes, this one 63"),
    ([(H_SIGNATURE, base64.b64encode(b"x" * 64))] * 2, "repeated"),
])
def test_a_malformed_signature_header_is_a_signature_error(headers: list[tuple[str, bytes]],
                                                          match: str) -> None:
    with pytest.raises(SignatureError, match=match):
        signature_header(headers)


def test_no_signature_header_is_none_and_an_unsigned_attribute_is_an_error() -> None:
    rec = record()
    assert signature_header(rec.headers) is None
    without_time = [(n, v) for n, v in rec.headers if n != "ce_time"]
    with pytest.raises(SignatureError, match="ce_time"):
        record_signing_bytes(without_time, rec.key, rec.value)
    with pytest.raises(SignatureError):
        decode_signature("")


def test_the_development_signing_keys_are_the_documented_derivation() -> None:
    seed = hashlib.sha256(b"commande-synthetic-signing-key/housing-services").digest()
    assert bytes(KEY) == bytes(SigningKey(seed))


# -- disclosure packages ---------------------------------------------------------------------


def test_a_package_signed_by_intake_verifies_and_names_the_key() -> None:
    package = sign_disclosure(sample(DisclosureSealed), INTAKE)
    assert package.signature is not None
    assert verify_disclosure(package, (OTHER.verify_key, INTAKE.verify_key)) == \
        package.signing_key_id
    # the signature and key id fields are not part of what is signed
    assert disclosure_signing_bytes(package) == disclosure_signing_bytes(sample(DisclosureSealed))


@pytest.mark.parametrize(("field", "value"), [
    ("recipient_agency", "public-health"),
    ("recipient_key_id", "fedcba9876543210"),
    ("situation_id", sample(DisclosureSealed).disclosure_id),
    ("fields", ("subject.people.given_name", "subject.address", "subject.people.phone")),
    ("legal_basis", "consent"),
    ("filter_stage", 4),
    ("purpose", "Something else."),
    ("ciphertext", "QW5vdGhlciBib3g="),
])
def test_a_package_changed_after_signing_is_refused(field: str, value: object) -> None:
    package = sign_disclosure(sample(DisclosureSealed), INTAKE)
    forged = package.model_copy(update={field: value})
    with pytest.raises(UnsignedPackage, match="not signed by intake's key"):
        verify_disclosure(forged, (INTAKE.verify_key,))


def test_a_package_signed_by_another_key_or_unsigned_is_refused() -> None:
    with pytest.raises(UnsignedPackage, match="not signed by intake's key"):
        verify_disclosure(sign_disclosure(sample(DisclosureSealed), OTHER), (INTAKE.verify_key,))
    with pytest.raises(UnsignedPackage, match="carries no signature"):
        verify_disclosure(sample(DisclosureSealed), (INTAKE.verify_key,))
    bad = sample(DisclosureSealed).model_copy(update={"signature": "AAAA"})
    with pytest.raises(UnsignedPackage, match="malformed"):
        verify_disclosure(bad, (INTAKE.verify_key,))
