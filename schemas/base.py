"""Common ground for every event and command: the model base, constrained field types, keys.

Every contract is a frozen pydantic model that forbids unknown fields. Scalars are strict (no
``"1"`` for ``1``, no Unix seconds for a timestamp), so what pydantic accepts is what the
generated JSON Schema accepts. Collections are tuples (immutable) and accept lists on input.

Codes that reference data may correct without a release (municipalities, age groups, risk
factors, conclusions) are *pattern-checked* here and checked against
:func:`schemas.reference.reference` by the services' rules, so that an unknown code is a business
rejection a person can act on, not a broken contract. Closed vocabularies fixed by a standard or
the law (FHIR task states, legal bases) are ``Literal`` types.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)
from pydantic.config import JsonDict as JsonDict

from schemas.topics import TopicSpec

CE_TYPE_PATTERN = r"^ca\.halton\.commande\.[a-z]+\.[a-z][a-z0-9_]*\.v[0-9]+$"
UUID7_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00: a ValueError is a validation error
        raise ValueError("must be a time between year 1 and year 9999 in UTC") from None


def _is_uuid7(value: UUID) -> UUID:
    # ``value.version == 7`` without its two Python properties (this runs for every id of every
    # event decoded): the RFC 4122 variant (top bits 10 of octet 8) and version nibble 7.
    if (value.int >> 62) & 0x3 != 0x2 or (value.int >> 76) & 0xF != 7:
        raise ValueError("must be a UUIDv7 (time-ordered), e.g. from uuid6.uuid7()")
    return value


UtcDatetime = Annotated[
    AwareDatetime,
    Strict(),
    AfterValidator(_to_utc),
    Field(json_schema_extra={"pattern": RFC3339_PATTERN}),
]
"""A timezone-aware instant, normalised to UTC; naive datetimes are rejected."""

Date = Annotated[
    date,
    Strict(),
    Field(json_schema_extra={"pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"}),
]
"""A calendar date, ``YYYY-MM-DD``."""

Uuid7 = Annotated[
    UUID, Strict(), AfterValidator(_is_uuid7), Field(json_schema_extra={"pattern": UUID7_PATTERN})
]
"""An id minted by commande (situation, meeting, notice, ...): a UUIDv7."""

AnyUuid = Annotated[UUID, Strict(), Field(json_schema_extra={"pattern": UUID_PATTERN})]
"""A UUID of any version (ids minted elsewhere)."""

AgencyId = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9-]{1,47}$")
]
"""A partner agency's directory slug, e.g. ``hrps-d1`` or ``cmha-halton``. Never a person."""

ReferralRef = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
]
"""The agency's own reference for a referral: an opaque token, never a name or a birth date."""

CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
Code = Annotated[str, StringConstraints(strict=True, pattern=CODE_PATTERN)]
"""A snake_case code from reference data (municipality, age group, conclusion, sector...)."""

RiskFactorCode = Annotated[
    str,
    StringConstraints(strict=True, max_length=96, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"),
]
"""A risk factor as ``category.factor`` from the risk taxonomy."""

FieldPath = Annotated[
    str,
    StringConstraints(strict=True, max_length=128, pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$"),
]
"""A dotted path to a field, e.g. ``summary.persons.0.age_group``."""

Base64 = Annotated[
    str, StringConstraints(strict=True, min_length=4, max_length=262_144, pattern=BASE64_PATTERN)
]
"""Standard base64 (RFC 4648 section 4, padded)."""


ShortText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=280)]
"""A short human sentence. Where it travels de-identified, it must not identify anyone."""

Narrative = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=1000)]
"""A short de-identified narrative: no names, contact data or identifying detail."""

Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)]

Count = Annotated[int, Strict(), Field(ge=0)]
Positive = Annotated[int, Strict(), Field(ge=1)]

Priority = Literal["routine", "urgent"]
SituationType = Literal["individual", "family", "group", "location"]
AerDecision = Literal["confirmed", "rejected", "returned"]
"""Filter 2 outcome: AER confirmed, rejected (not AER) or returned to the originator."""
TaskState = Literal[
    "requested", "accepted", "rejected", "cancelled", "in-progress", "on-hold",
    "completed", "failed", "entered-in-error",
]
"""The FHIR Task status subset of the Gravity SDOH referral profile."""
TASK_STATES_NEEDING_REASON: tuple[str, ...] = ("rejected", "cancelled", "on-hold", "failed")
LegalBasis = Literal[
    "consent", "mfippa_health_safety", "fippa_health_safety", "phipa_40_1", "cyfsa_part_x", "other"
]
"""The law under which an agency discloses identified data (domain.md section 5)."""
ActorRole = Literal[
    "table_chair", "originating_agency", "lead_agency", "assisting_agency", "member", "cmb"
]
IdentityRelease = Literal["filter_3", "filter_4"]
"""Per-table setting: identity is released at Filter 3 (assignment) or only at Filter 4."""


class Contract(BaseModel):
    """Base of every contract model: frozen, unknown fields forbidden."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Actor(Contract):
    """Who issued a command: an agency acting in a role at the table. Never a person's name."""

    agency_id: AgencyId
    role: ActorRole


class Message(Contract):
    """An event or command that travels as a CloudEvent.

    Subclasses declare ``ce_type`` (``ca.halton.commande.<stream>.<event>.v1``) and ``topic``,
    and derive the Kafka key with :meth:`key`; :meth:`subject_id` is the situation id for
    ``ce_subject`` (or ``None``).
    """

    ce_type: ClassVar[str]
    topic: ClassVar[TopicSpec]

    def key(self) -> str:
        """The Kafka record key: ordering holds per key. Never personal data."""
        raise NotImplementedError(type(self).__name__)

    def subject_id(self) -> UUID | None:
        """The situation this message is about, for ``ce_subject``."""
        return None


class Event(Message):
    """A fact that happened."""


class Command(Message):
    """A request to convening to change a situation or meeting; it may be refused.

    Attributes:
        actor: the agency and role issuing it (checked by convening against the table roster).
        issued_at: when the client issued it.
    """

    actor: Actor
    issued_at: UtcDatetime


class SituationKeyed(Message):
    """Keyed by situation id, which is also the ``ce_subject``."""

    situation_id: Uuid7

    def key(self) -> str:
        """The situation id."""
        return str(self.situation_id)

    def subject_id(self) -> UUID | None:
        """The situation id."""
        return self.situation_id


class ReferralKeyed(Message):
    """Keyed by ``{agency_id}/{referral_ref}``: a referral's events stay in order."""

    agency_id: AgencyId
    referral_ref: ReferralRef

    def key(self) -> str:
        """``{agency_id}/{referral_ref}``."""
        return f"{self.agency_id}/{self.referral_ref}"


def require_reason_when(
    field: str, values: tuple[str, ...], reason: str = "reason"
) -> JsonDict:
    """JSON Schema fragment: ``reason`` must be a string when ``field`` is one of ``values``."""
    return {
        "if": {"properties": {field: {"enum": list(values)}}, "required": [field]},
        "then": {"properties": {reason: {"type": "string"}}, "required": [reason]},
    }
