"""Sealed disclosures of identified data (restricted topic ``commande.disclosures.v1``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from schemas.base import (
    AgencyId,
    Base64,
    Event,
    FieldPath,
    LegalBasis,
    ShortText,
    SituationKeyed,
    UtcDatetime,
    Uuid7,
)
from schemas.topics import DISCLOSURES

KeyId = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{16,64}$")]


class DisclosureSealed(SituationKeyed, Event):
    """Intake sealed the minimum necessary identified fields for one recipient agency.

    The ciphertext is a libsodium sealed box for the recipient's public key; only that agency can
    open it. The rest is the audit record of domain.md section 5: who disclosed what, to whom, when,
    why and under which law. It is append-only.

    Attributes:
        disclosure_id: id of this disclosure.
        disclosing_agency: the agency whose data it is and which discloses it.
        recipient_agency: the one agency that can open it.
        recipient_key_id: hex fingerprint of the public key it was sealed for.
        fields: dotted names of the identified fields disclosed (``subject.people.given_name``).
        legal_basis: the law under which it is disclosed.
        filter_stage: 3 (on assignment) or 4 (for the intervention).
        purpose: why (de-identified sentence, e.g. "plan the intervention as lead agency").
        ciphertext: base64 of the sealed box.
        sealed_at: when.
        signature: intake's Ed25519 signature (base64) of the ciphertext and every field above
            (:func:`schemas.signing.disclosure_signing_bytes`); openers verify it against the
            directory's ``intake.signing_key`` before opening anything. Optional in v1 only
            so that packages already on the topic stay readable; intake always signs, and
            ``commande intake disclosure open`` refuses a package without a valid signature.
        signing_key_id: hex fingerprint of the intake signing key that made ``signature``.
    """

    ce_type = "ca.halton.commande.disclosure.sealed.v1"
    topic = DISCLOSURES

    disclosure_id: Uuid7
    disclosing_agency: AgencyId
    recipient_agency: AgencyId
    recipient_key_id: KeyId
    fields: tuple[FieldPath, ...] = Field(min_length=1, max_length=40)
    legal_basis: LegalBasis
    filter_stage: Literal[3, 4]
    purpose: ShortText
    ciphertext: Base64
    sealed_at: UtcDatetime
    signature: Base64 | None = None
    signing_key_id: KeyId | None = None
