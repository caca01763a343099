"""Notifier's own values: recipients, planned notices, rendered notices. Pure data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from directory import Channel, ContactRole
from schemas.notices import NoticeKind


class Privacy(StrEnum):
    """How much a notice may say.

    ``reference``: ids, codes, times and roles only (escalations, assignments, conclusions,
    refusals). ``deidentified``: the Filter-2 summary too (age groups, genders, risk factors,
    narrative), only to participants of that table. ``sealed``: a sealed box only the recipient
    agency can open; notifier never sees what is inside. ``identified``: see below.
    """

    REFERENCE = "reference"
    DEIDENTIFIED = "deidentified"
    SEALED = "sealed"
    IDENTIFIED = "identified"
    """A community event request: the requester's own details, to the CMB that follows up and
    to the requester; stored sealed, never on a topic."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """One role address of one agency (never a person), or the requester of a community event
    request (role ``requester``; ``address`` is then a placeholder naming the request, the
    e-mail itself travels sealed in the notice's payload)."""

    agency_id: str
    role: ContactRole | Literal["requester"]
    channel: Channel
    address: str

    @property
    def key(self) -> str:
        """Stable name of this recipient for notice ids and uniqueness."""
        return f"{self.agency_id}/{self.role}/{self.address}"


@dataclass(frozen=True, slots=True)
class Planned:
    """A notice to send: what kind, to whom, at which privacy level."""

    kind: NoticeKind
    recipient: Recipient
    privacy: Privacy
    essential: bool
    part: str | None = None
    """The recipient's part, where it matters (``lead`` or ``assisting`` for an assignment)."""


@dataclass(frozen=True, slots=True)
class MeetingInfo:
    """What notifier remembers of a ``MeetingScheduled``."""

    district: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    venue: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to an e-mail (a signed disclosure package)."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Rendered:
    """A notice ready for any channel: e-mail parts and the webhook body."""

    subject: str
    text: str
    html: str
    body: dict[str, Any]
    attachments: tuple[Attachment, ...] = field(default=())


def notice_id(cause_id: UUID, recipient_key: str, kind: str) -> UUID:
    """The notice id: deterministic in (cause event, recipient, kind), shaped as a UUIDv7.

    The 48-bit time prefix is the cause's (a UUIDv7 too), so notices sort with their causes; the
    rest is a SHA-256 of the three parts. The same event redelivered gives the same id.
    """
    digest = hashlib.sha256(f"{cause_id}|{recipient_key}|{kind}".encode()).digest()
    prefix = cause_id.int >> 80 if cause_id.version == 7 else int.from_bytes(digest[10:16])
    rand = int.from_bytes(digest[:10])
    value = (prefix & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return UUID(int=value)
