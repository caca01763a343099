"""Values the pure convening core works on: situation briefs, meetings, participants.

These are convening's own views, built by the shell from the contract events in ``schemas``;
none carries identifying data (Filter 2 only: district, priority, risk categories).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import AgencyId, Code, Priority, UtcDatetime


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SituationBrief(_Frozen):
    """What convening needs to know about an opened situation to place and staff it."""

    situation_id: UUID
    district: Code
    originating_agency: AgencyId
    priority: Priority
    arrived_at: UtcDatetime
    """When the situation was opened (the ``SituationOpened`` time): the agenda's tie-breaker."""
    risk_categories: tuple[Code, ...] = Field(min_length=1)


class MeetingKind(StrEnum):
    """A regular meeting from the table's cadence, or an ad-hoc one for an urgent situation."""

    REGULAR = "regular"
    ADHOC = "ad_hoc"


class MeetingSlot(_Frozen):
    """A meeting of a district's table."""

    meeting_id: UUID
    district: str
    kind: MeetingKind
    starts_at: UtcDatetime
    location: str
    scheduled_at: UtcDatetime
    """When convening decided the meeting (the first situation placed on it)."""


class InviteReason(StrEnum):
    """Why a participant is invited for a situation."""

    DISTRICT_CMB = "district_cmb"
    ORIGINATING_AGENCY = "originating_agency"
    SECTOR_MATCH = "sector_match"
    """The organization acts on one of the situation's risk categories (``InvitationReason``)."""


class Participant(_Frozen):
    """An organization needed at the table for one situation, and why."""

    agency_id: AgencyId
    name: str
    reasons: tuple[InviteReason, ...] = Field(min_length=1)
    matched_categories: tuple[str, ...] = ()
    """The situation's risk categories this organization acts on (sorted)."""
    matched_sectors: tuple[str, ...] = ()
    """This organization's sectors that act on those categories, per the risk taxonomy (sorted)."""

    @property
    def reason(self) -> InviteReason:
        """The main reason, for contracts that carry one: CMB, then originator, then match."""
        return self.reasons[0]

    @property
    def why(self) -> str:
        """One sentence a recipient can read: why this organization is invited."""
        parts: list[str] = []
        for reason in self.reasons:
            if reason is InviteReason.DISTRICT_CMB:
                parts.append("the district's Community Mobilization Bureau chairs the table")
            elif reason is InviteReason.ORIGINATING_AGENCY:
                parts.append("your agency brought this situation to the table")
            else:
                parts.append("your agency acts on " + ", ".join(self.matched_categories))
        return "; ".join(parts) + "."


def deterministic_uuid7(at: datetime, *parts: str) -> UUID:
    """A UUIDv7 whose time is ``at`` and whose other bits hash ``parts``.

    Every convening instance, and every replay, derives the same meeting id for the same meeting,
    and ids still sort by meeting time like the UUIDv7 ids of the contracts.
    """
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:10], "big")
    rand_a = digest >> 68 & 0xFFF
    rand_b = digest & ((1 << 62) - 1)
    value = millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return UUID(int=value)
