"""The referrals stream: what a partner agency submits and what intake answers.

``ReferralSubmitted`` is the only event that carries identity in the clear (or sealed), and only
on the restricted ``commande.referrals.v1`` topic. Everything that leaves intake is de-identified.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Annotated

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from schemas.base import (
    CODE_PATTERN,
    Base64,
    Code,
    Contract,
    Date,
    Event,
    FieldPath,
    JsonDict,
    LegalBasis,
    Name,
    Narrative,
    Priority,
    ReferralKeyed,
    RiskFactorCode,
    ShortText,
    SituationType,
    UtcDatetime,
    Uuid7,
)
from schemas.topics import REFERRAL_STATUS, REFERRALS

Phone = Annotated[str, StringConstraints(strict=True, pattern=r"^\+?[0-9][0-9 ()-]{6,19}$")]
LanguageTag = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
]

PLACE_NAME_MAX = 100
NO_CONTROL_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]+$"
"""One or more characters, none a control character (Unicode category Cc)."""


def _place_name(value: str) -> str:
    if not 1 <= len(value) <= PLACE_NAME_MAX or any(
            unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError(f"write the municipality's name as text of 1 to {PLACE_NAME_MAX} "
                         "characters, without control characters")
    return value


MunicipalityAsWritten = Annotated[
    str,
    Strict(),
    AfterValidator(_place_name),
    WithJsonSchema({
        "description": "The municipality or community as the agency writes it (Acton, Halton "
                       "Hills, Glen Williams...) or its code (halton_hills); intake's Filter 1 "
                       "maps it to a Halton municipality code (schemas/reference/districts.yaml).",
        "anyOf": [
            {"type": "string", "pattern": CODE_PATTERN,
             "description": "a municipality code (milton, halton_hills)"},
            {"type": "string", "minLength": 1, "maxLength": PLACE_NAME_MAX,
             "pattern": NO_CONTROL_PATTERN,
             "description": "a name as written: any case, accents, spaces or hyphens; no "
                            "control characters"},
        ],
    }),
]
"""A municipality as a referral may give it: its code or a name as people write it. One of the
two alternatives of the schema is the code, so every referral valid before stays valid (and the
compatibility gate can see that: :mod:`schemas.compat`)."""


class PersonConcerned(Contract):
    """One person concerned by a situation, de-identified: only age group and gender leave Filter 1.

    Attributes:
        age_group: an age-group code from reference data (``age_12_17``); never a birth date.
        gender: a gender code from reference data.
    """

    age_group: Code
    gender: Code


class ReferralSummary(Contract):
    """The de-identified block of a referral, as the agency writes it.

    Attributes:
        situation_type: individual, family, group or location.
        municipality: the municipality or community as written (``Acton``, ``Halton Hills``,
            `` burlington ``) or its code (``halton_hills``); Filter 1 maps it to the code.
        persons: age group and gender of each person concerned.
        risk_factors: ``category.factor`` codes from the risk taxonomy.
        protective_factors: protective-factor codes.
        study_flags: study-flag codes.
        narrative: short de-identified narrative.
    """

    # A SituationSummary given here becomes a ReferralSummary (equal to the one parsed back).
    model_config = ConfigDict(revalidate_instances="subclass-instances")

    situation_type: SituationType
    municipality: MunicipalityAsWritten
    persons: tuple[PersonConcerned, ...] = Field(min_length=1, max_length=20)
    risk_factors: tuple[RiskFactorCode, ...] = Field(min_length=1, max_length=40)
    protective_factors: tuple[Code, ...] = Field(default=(), max_length=40)
    study_flags: tuple[Code, ...] = Field(default=(), max_length=20)
    narrative: Narrative

    def situation_summary(self, municipality: str) -> SituationSummary:
        """This block as the situation carries it, with ``municipality`` the code Filter 1
        found."""
        fields = {name: getattr(self, name) for name in SituationSummary.model_fields}
        return SituationSummary(**{**fields, "municipality": municipality})


class SituationSummary(ReferralSummary):
    """The de-identified picture of a situation that the table discusses at Filter 2.

    What leaves intake: the referral's summary with the municipality as its code.

    Attributes:
        situation_type: individual, family, group or location.
        municipality: municipality code (``milton``, ``halton_hills``, ...).
        persons: age group and gender of each person concerned.
        risk_factors: ``category.factor`` codes from the risk taxonomy.
        protective_factors: protective-factor codes.
        study_flags: study-flag codes.
        narrative: short de-identified narrative.
    """

    municipality: Code


class AerAttestation(Contract):
    """The originating agency's Filter 1 attestation of the four AER tests (domain.md section 2).

    Attributes:
        significant_interest: a significant interest is at stake.
        probable_harm: harm is probable without intervention.
        severe_harm: the harm would be severe.
        multi_disciplinary: the risk is beyond the originator's mandate, across sectors.
        attested_at: when the agency attested it.
    """

    significant_interest: Annotated[bool, Strict()]
    probable_harm: Annotated[bool, Strict()]
    severe_harm: Annotated[bool, Strict()]
    multi_disciplinary: Annotated[bool, Strict()]
    attested_at: UtcDatetime


class IdentifiedPerson(Contract):
    """One identified person (identified block only; stays in intake's vault).

    Attributes:
        given_name: given name(s).
        family_name: family name.
        date_of_birth: date of birth, if known.
        phone: phone number, if any.
    """

    given_name: Name
    family_name: Name
    date_of_birth: Date | None = None
    phone: Phone | None = None


class Subject(Contract):
    """The identified block of a referral, disclosed under ``legal_basis``.

    Attributes:
        people: the identified persons (same order as ``summary.persons`` where applicable).
        address: street address, if any.
        location_description: a location, when the situation is about a place.
        languages: BCP 47 language tags (``en``, ``fr-CA``).
        safety_notes: what a visitor must know before knocking.
        legal_basis: the law under which the originating agency discloses this block.
    """

    people: tuple[IdentifiedPerson, ...] = Field(default=(), max_length=20)
    address: ShortText | None = None
    location_description: ShortText | None = None
    languages: tuple[LanguageTag, ...] = Field(default=(), max_length=10)
    safety_notes: Annotated[str, StringConstraints(strict=True, max_length=1000)] | None = None
    legal_basis: LegalBasis


_EXACTLY_ONE_SUBJECT: JsonDict = {
    "oneOf": [
        {"required": ["subject"], "properties": {"subject": {"type": "object"}}},
        {"required": ["sealed_subject"], "properties": {"sealed_subject": {"type": "string"}}},
    ]
}


class ReferralSubmitted(ReferralKeyed, Event):
    """A partner agency refers a situation it screened at Filter 1.

    Exactly one of ``subject`` (clear, on the restricted topic only) or ``sealed_subject`` (the
    JSON of a :class:`Subject` in a libsodium sealed box for intake's public key, base64) is set.

    Attributes:
        submitted_at: when the agency submitted it.
        priority: ``urgent`` asks for an ad-hoc meeting within 24 h.
        summary: the de-identified block.
        aer: the AER attestation.
        subject: the identified block, in the clear.
        sealed_subject: the identified block, sealed.
    """

    ce_type = "ca.halton.commande.referral.submitted.v1"
    topic = REFERRALS

    model_config = ConfigDict(json_schema_extra=_EXACTLY_ONE_SUBJECT)

    submitted_at: UtcDatetime
    priority: Priority
    summary: ReferralSummary
    aer: AerAttestation
    subject: Subject | None = None
    sealed_subject: Base64 | None = None

    @model_validator(mode="after")
    def _exactly_one_subject(self) -> ReferralSubmitted:
        if (self.subject is None) == (self.sealed_subject is None):
            raise ValueError("exactly one of subject or sealed_subject is required")
        return self


class ReferralWithdrawn(ReferralKeyed, Event):
    """The originating agency withdraws a referral (the situation concludes as ``withdrawn``).

    Attributes:
        withdrawn_at: when.
        reason: a reason code (``resolved_elsewhere``, ``submitted_in_error``, ...).
    """

    ce_type = "ca.halton.commande.referral.withdrawn.v1"
    topic = REFERRALS

    withdrawn_at: UtcDatetime
    reason: Code


class ReferralAccepted(ReferralKeyed, Event):
    """Intake accepted a referral and opened (or found, for a duplicate) its situation.

    Attributes:
        situation_id: the situation to quote from now on.
        district: the district table it goes to.
        accepted_at: when.
        duplicate: true when this referral matched a situation already open.
    """

    ce_type = "ca.halton.commande.referral.accepted.v1"
    topic = REFERRAL_STATUS

    situation_id: Uuid7
    district: Code
    accepted_at: UtcDatetime
    duplicate: Annotated[bool, Strict()] = False


REASON_MESSAGE_MAX = 500
"""The longest message a :class:`Reason` carries."""


class Reason(Contract):
    """One reason for a refusal, machine-readable and actionable by a person.

    Attributes:
        code: machine code (``municipality_outside_halton``).
        field: dotted path of the field at fault, if one is.
        message: a sentence a person can act on. Never echoes personal data.
    """

    code: Code
    field: FieldPath | None = None
    message: Annotated[str, StringConstraints(strict=True, min_length=1,
                                              max_length=REASON_MESSAGE_MAX)]


WITHHELD_PREFIX = "withheld-"


def withheld_ref(agency_id: str, referral_ref: str) -> str:
    """What the answer names instead of a reference that itself identifies someone (a phone
    number, a name): ``withheld-`` and the first 20 hex digits of the SHA-256 of
    ``<agency_id>/<referral_ref>``, so the agency can still find its answer, and the reference is
    in no key, no e-mail subject and no long-kept topic."""
    digest = hashlib.sha256(f"{agency_id}/{referral_ref}".encode()).hexdigest()[:20]
    return f"{WITHHELD_PREFIX}{digest}"


class ReferralRejected(ReferralKeyed, Event):
    """Intake refused a referral, with every reason.

    Attributes:
        rejected_at: when.
        reasons: every reason found, not only the first.
    """

    ce_type = "ca.halton.commande.referral.rejected.v1"
    topic = REFERRAL_STATUS

    rejected_at: UtcDatetime
    reasons: tuple[Reason, ...] = Field(min_length=1, max_length=100)


__all__ = [
    "AerAttestation", "IdentifiedPerson", "PersonConcerned", "Reason", "ReferralAccepted",
    "ReferralRejected", "ReferralSubmitted", "ReferralSummary", "ReferralWithdrawn",
    "SituationSummary", "Subject",
]
