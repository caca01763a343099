"""Views: the situation events analytics folds, decoded by msgspec, checked as their contracts.

A view mirrors one contract model of :mod:`schemas.situations` field for field (same names, same
Python types: ``UUID``, UTC ``datetime``, ``tuple``, ``str``), so a fold that reads attributes
reads a view as it reads the model. :func:`reader` gives, per ``ce_type``, a function from a
record's body to its view, or ``None`` when the fast path does not accept the body.

What a reader accepts is a *subset* of what the contract model accepts, with the same values: the
structure, types, literals, lengths and tuple sizes are checked by msgspec while decoding; the
string patterns, UUIDv7 ids, the model validators and the time stamps by :meth:`View.checked`
(patterns against sets of strings already seen to match, so a vocabulary code costs a set lookup).
Whatever msgspec refuses, or the contract model might read differently (a fraction of a second with
more than six digits, a time zone other than UTC, an escaped character), is *not* accepted
here: the caller (:class:`schemas.decoder.Decoder`) then validates the body with the contract
model, which accepts it or refuses it with its own error. So no event is folded without its contract checks,
and every refusal is the contract's. Unit tests compare both paths on every sample and on fuzzed
bodies (``tests/unit/test_schemas_views.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Final, Literal
from uuid import UUID

import msgspec
from msgspec import Meta, Struct

from schemas.base import (
    TASK_STATES_NEEDING_REASON,
    ActorRole,
    AerDecision,
    Priority,
    SituationType,
    TaskState,
)
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionOutcome,
    InterventionRecorded,
    SituationConcluded,
    SituationOpened,
    SituationReopened,
    SlaBreached,
    SlaKind,
    SlaWarning,
)

Utc = Annotated[datetime, Meta(tz=True)]
"""An aware time; :meth:`View.checked` also requires UTC (the contract converts other zones)."""
Short = Annotated[str, Meta(min_length=1, max_length=280)]
Narrative = Annotated[str, Meta(min_length=1, max_length=1000)]

_MEMO: Final = 1 << 16
"""Strings remembered per pattern (then the memory starts over)."""


class _Pattern:
    """A contract's string pattern (``fullmatch``: Rust's ``^...$``), remembering what matched.

    ``value in pattern.seen or pattern.ok(value)``: a set lookup for a string seen before.
    """

    def __init__(self, pattern: str, max_length: int | None = None) -> None:
        self.pattern = pattern
        self._match = re.compile(pattern).fullmatch
        self._max = max_length
        self.seen: set[str] = set()

    def ok(self, value: str) -> bool:
        if self._match(value) is None or (self._max is not None and len(value) > self._max):
            return False
        if len(self.seen) >= _MEMO:
            self.seen.clear()
        self.seen.add(value)
        return True

    def all_ok(self, values: tuple[str, ...]) -> bool:
        return self.seen.issuperset(values) or all(self.ok(v) for v in values)


# The patterns of schemas.base (Code, AgencyId, ReferralRef, RiskFactorCode), without anchors.
_CODE = _Pattern(r"[a-z][a-z0-9_]{0,63}")
_AGENCY = _Pattern(r"[a-z][a-z0-9-]{1,47}")
_RISK = _Pattern(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", max_length=96)
_REF_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_REF: Final = re.compile(_REF_PATTERN).fullmatch
"""Referral references are not remembered: each situation has its own."""
STRING_PATTERNS: Final = frozenset(
    f"^{p}$" for p in (_CODE.pattern, _AGENCY.pattern, _RISK.pattern, _REF_PATTERN))
"""The string patterns the views check, as the contracts' JSON Schemas write them."""
_CODES = _CODE.seen
_AGENCIES = _AGENCY.seen
_NEEDS_REASON: Final = frozenset(TASK_STATES_NEEDING_REASON)


def _uuid7(value: UUID) -> bool:
    return (value.int >> 62) & 0x3 == 0x2 and (value.int >> 76) & 0xF == 7


class _View(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, gc=False):
    """Base of every view and nested part: immutable, unknown fields refused, not GC-tracked."""


class Actor(_View, frozen=True, kw_only=True):
    agency_id: str
    role: ActorRole

    def ok(self) -> bool:
        return self.agency_id in _AGENCIES or _AGENCY.ok(self.agency_id)


class PersonConcerned(_View, frozen=True, kw_only=True):
    age_group: str
    gender: str


class SituationSummary(_View, frozen=True, kw_only=True):
    situation_type: SituationType
    municipality: str
    persons: Annotated[tuple[PersonConcerned, ...], Meta(min_length=1, max_length=20)]
    risk_factors: Annotated[tuple[str, ...], Meta(min_length=1, max_length=40)]
    protective_factors: Annotated[tuple[str, ...], Meta(max_length=40)] = ()
    study_flags: Annotated[tuple[str, ...], Meta(max_length=20)] = ()
    narrative: Narrative

    def ok(self) -> bool:
        code = _CODE
        for p in self.persons:
            if not ((p.age_group in _CODES or code.ok(p.age_group))
                    and (p.gender in _CODES or code.ok(p.gender))):
                return False
        return ((self.municipality in _CODES or code.ok(self.municipality))
                and _RISK.all_ok(self.risk_factors) and code.all_ok(self.protective_factors)
                and code.all_ok(self.study_flags))


class AerAttestation(_View, frozen=True, kw_only=True):
    significant_interest: bool
    probable_harm: bool
    severe_harm: bool
    multi_disciplinary: bool
    attested_at: Utc


class AgencyTask(_View, frozen=True, kw_only=True):
    agency_id: str
    state: TaskState = "requested"
    reason: Short | None = None

    def ok(self) -> bool:
        return ((self.agency_id in _AGENCIES or _AGENCY.ok(self.agency_id))
                and (self.reason is not None or self.state not in _NEEDS_REASON))


class View(_View, frozen=True, kw_only=True):
    """A situation event as analytics reads it: ``ce_type`` and ``situation_id`` as the model's."""

    ce_type: ClassVar[str]
    situation_id: UUID

    def checked(self) -> bool:
        """Whether the checks msgspec does not make hold (patterns, UUIDv7, validators, UTC)."""
        return _uuid7(self.situation_id) and self._ok()

    def _ok(self) -> bool:
        raise NotImplementedError


class SituationOpenedView(View, frozen=True, kw_only=True):
    ce_type = SituationOpened.ce_type
    originating_agency: str
    referral_ref: str
    district: str
    priority: Priority
    opened_at: Utc
    summary: SituationSummary
    aer: AerAttestation

    def _ok(self) -> bool:
        return ((self.originating_agency in _AGENCIES or _AGENCY.ok(self.originating_agency))
                and _REF(self.referral_ref) is not None
                and (self.district in _CODES or _CODE.ok(self.district))
                and self.opened_at.tzinfo is UTC and self.aer.attested_at.tzinfo is UTC
                and self.summary.ok())


class AerDecisionRecordedView(View, frozen=True, kw_only=True):
    ce_type = AerDecisionRecorded.ce_type
    meeting_id: UUID
    decision: AerDecision
    decided_at: Utc
    decided_by: Actor
    note: Short | None = None

    def _ok(self) -> bool:
        return (_uuid7(self.meeting_id) and self.decided_at.tzinfo is UTC
                and self.decided_by.ok())


class AgenciesAssignedView(View, frozen=True, kw_only=True):
    ce_type = AgenciesAssigned.ce_type
    meeting_id: UUID
    lead: AgencyTask
    assisting: Annotated[tuple[AgencyTask, ...], Meta(max_length=30)] = ()
    identity_release: Literal["filter_3", "filter_4"]
    assigned_at: Utc
    assigned_by: Actor

    def _ok(self) -> bool:
        ids = {self.lead.agency_id, *(t.agency_id for t in self.assisting)}
        return (_uuid7(self.meeting_id) and self.assigned_at.tzinfo is UTC and self.assigned_by.ok()
                and self.lead.ok() and all(t.ok() for t in self.assisting)
                and len(ids) == 1 + len(self.assisting))


class AssignmentRespondedView(View, frozen=True, kw_only=True):
    ce_type = AssignmentResponded.ce_type
    agency_id: str
    from_state: TaskState
    to_state: TaskState
    reason: Short | None = None
    responded_at: Utc
    responded_by: Actor

    def _ok(self) -> bool:
        return ((self.agency_id in _AGENCIES or _AGENCY.ok(self.agency_id))
                and self.responded_at.tzinfo is UTC and self.responded_by.ok()
                and (self.reason is not None or self.to_state not in _NEEDS_REASON))


class InterventionRecordedView(View, frozen=True, kw_only=True):
    ce_type = InterventionRecorded.ce_type
    agency_id: str
    first_contact_at: Utc | None = None
    outcome: InterventionOutcome
    services_mobilized: Annotated[tuple[str, ...], Meta(max_length=20)] = ()
    recorded_at: Utc
    recorded_by: Actor

    def _ok(self) -> bool:
        first = self.first_contact_at
        return ((self.agency_id in _AGENCIES or _AGENCY.ok(self.agency_id))
                and (first is None or first.tzinfo is UTC) and self.recorded_at.tzinfo is UTC
                and _CODE.all_ok(self.services_mobilized) and self.recorded_by.ok())


class SituationConcludedView(View, frozen=True, kw_only=True):
    ce_type = SituationConcluded.ce_type
    conclusion: str
    concluded_at: Utc
    concluded_by: Actor | None = None
    meeting_id: UUID | None = None

    def _ok(self) -> bool:
        return ((self.conclusion in _CODES or _CODE.ok(self.conclusion))
                and self.concluded_at.tzinfo is UTC
                and (self.concluded_by is None or self.concluded_by.ok())
                and (self.meeting_id is None or _uuid7(self.meeting_id)))


class SituationReopenedView(View, frozen=True, kw_only=True):
    ce_type = SituationReopened.ce_type
    reason: str
    reopened_at: Utc
    reopened_by: Actor

    def _ok(self) -> bool:
        return ((self.reason in _CODES or _CODE.ok(self.reason)) and self.reopened_at.tzinfo is UTC
                and self.reopened_by.ok())


class SlaWarningView(View, frozen=True, kw_only=True):
    ce_type = SlaWarning.ce_type
    sla: SlaKind
    agency_id: str | None = None
    district: str
    started_at: Utc
    due_at: Utc
    warned_at: Utc

    def _ok(self) -> bool:
        agency = self.agency_id
        return ((agency is None or agency in _AGENCIES or _AGENCY.ok(agency))
                and (self.district in _CODES or _CODE.ok(self.district))
                and self.started_at.tzinfo is UTC and self.due_at.tzinfo is UTC
                and self.warned_at.tzinfo is UTC)


class SlaBreachedView(View, frozen=True, kw_only=True):
    ce_type = SlaBreached.ce_type
    sla: SlaKind
    agency_id: str | None = None
    district: str
    started_at: Utc
    due_at: Utc
    breached_at: Utc

    def _ok(self) -> bool:
        agency = self.agency_id
        return ((agency is None or agency in _AGENCIES or _AGENCY.ok(agency))
                and (self.district in _CODES or _CODE.ok(self.district))
                and self.started_at.tzinfo is UTC and self.due_at.tzinfo is UTC
                and self.breached_at.tzinfo is UTC)


VIEWS: Final[dict[str, type[View]]] = {view.ce_type: view for view in (
    SituationOpenedView, AerDecisionRecordedView, AgenciesAssignedView, AssignmentRespondedView,
    InterventionRecordedView, SituationConcludedView, SituationReopenedView, SlaWarningView,
    SlaBreachedView,
)}
"""``ce_type`` → its view: the situation events the analytics facts fold."""

_LONG_FRACTION: Final = re.compile(rb"\.[0-9]{7}")
"""Perhaps a time with more than six digits of a second: msgspec rounds them, the contract
truncates them. Such a body goes to the contract model, and so does any body with an escape
(a backslash): ``\\u002e1234567`` spells one too."""


def reader(ce_type: str) -> Callable[[bytes], View | None] | None:
    """The fast reader of ``ce_type``'s bodies (``None``: the type has no view).

    The reader returns the view, or ``None`` when it does not accept the body: the contract
    model must then decide (accept it, or refuse it with its error).
    """
    view = VIEWS.get(ce_type)
    if view is None:
        return None
    decode = msgspec.json.Decoder(view).decode
    long_fraction = _LONG_FRACTION.search

    def read(body: bytes) -> View | None:
        try:
            decoded = decode(body)
        except msgspec.MsgspecError:
            return None
        if not decoded.checked() or long_fraction(body) is not None or b"\\" in body:
            return None
        return decoded

    return read
