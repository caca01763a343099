"""What notifier needs of its state, as a typed port: the notices and their delivery, the facts
later events need but do not carry (meetings, originators, command actors, refusals that wait for
their command), and, for community event requests (:class:`EventRequestState`), the sealed
submission, the facts waiting for it and the purge tombstones.

A store is bound to one transaction (:class:`services.notifier.store.PgNotifierStore` over the
consumer's or the delivery loop's connection), so no method takes a connection. The in-memory
fake (``tests/support/fakes/notifier.py``) passes the same contract suite
(``tests/support/contracts/notifier_store.py``) as the PostgreSQL store, so the shell and the
delivery loop can be tested on it in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from schemas.base import Actor
from services.notifier.model import MeetingInfo
from services.notifier.priority import Priority
from services.runtime.cipher import Sealed
from services.runtime.db import Connection


@dataclass(frozen=True, slots=True)
class NewNotice:
    """A rendered notice to insert."""

    notice_id: UUID
    cause_id: UUID
    cause_topic: str
    kind: str
    recipient_agency: str
    recipient_key: str
    channel: str
    address: str
    privacy: str
    payload: dict[str, Any]
    priority: Priority = Priority.ROUTINE
    request_id: UUID | None = None
    """The community event request the notice is about: its unsent notices fail together when
    the requester's contact is purged (:meth:`EventRequestState.fail_pending`)."""


@dataclass(frozen=True, slots=True)
class Due:
    """A notice taken for an attempt (locked until the taking transaction ends)."""

    notice_id: UUID
    cause_id: UUID
    cause_topic: str
    kind: str
    recipient_agency: str
    channel: str
    address: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class NoticeSummary:
    """What the acknowledgement page shows: the kind, who it was for and when (no content)."""

    kind: str
    recipient_agency: str
    sent_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class Waiting:
    """A de-identified fact that arrived before its request's submission."""

    cause_id: UUID
    cause_topic: str
    event_type: str
    event_json: str


@dataclass(frozen=True, slots=True)
class FailedNotice:
    """A notice that ended without being sent (its ids and codes only)."""

    notice_id: UUID
    cause_id: UUID
    kind: str
    recipient_agency: str
    channel: str
    attempt: int


class EventRequestState(Protocol):
    """What the community event requests' shell keeps beyond notices: a submission and a fact of
    one request travel on different topics, so either may come first, and a purge may come
    before both."""

    async def lock_request(self, request_id: UUID) -> None:
        """Serialize the work on ``request_id`` until the transaction ends (so a submission and
        a fact handled at the same time cannot both miss each other)."""
        ...

    async def save_contact(self, request_id: UUID, sealed: Sealed, now: datetime) -> bool:
        """Keep the sealed submission; ``False`` when one was already kept (the first stays)."""
        ...

    async def get_contact(self, request_id: UUID) -> Sealed | None:
        """The sealed submission of ``request_id``, or ``None``."""
        ...

    async def purge_contact(self, request_id: UUID, now: datetime) -> bool:
        """Delete the contact and remember the purge for good; ``True`` when a contact was
        deleted."""
        ...

    async def is_purged(self, request_id: UUID) -> bool:
        """Whether the contact of ``request_id`` was purged."""
        ...

    async def park(self, request_id: UUID, waiting: Waiting, now: datetime) -> None:
        """Keep a fact until its submission arrives (a fact already parked, by cause id, is
        left alone)."""
        ...

    async def pop_waiting(self, request_id: UUID) -> list[Waiting]:
        """The facts waiting for ``request_id`` (removed), in arrival order."""
        ...

    async def insert_failed(self, notice: NewNotice, error: str, now: datetime) -> bool:
        """Record ``notice`` as failed at its first attempt with ``error`` (nothing is kept of
        its payload; never due); ``False`` when it was already there (by id or by (cause,
        recipient, kind))."""
        ...

    async def fail_pending(self, request_id: UUID, error: str,
                           now: datetime) -> list[FailedNotice]:
        """End the request's unsent notices as failed with ``error``, one more attempt counted
        (their payloads are dropped); the ones ended, in no particular order."""
        ...


class NotifierStore(EventRequestState, Protocol):
    """Notifier's state within one transaction."""

    async def insert_notices(self, notices: Sequence[NewNotice], now: datetime) -> int:
        """Insert ``notices``, due at ``now`` (one already there, by id or by (cause, recipient,
        kind), is left alone) and wake the delivery loop; returns how many were new."""
        ...

    async def take_due(self, now: datetime, limit: int) -> list[Due]:
        """Up to ``limit`` pending notices due at ``now``, urgent first then oldest due first;
        held for this transaction (another transaction's held notices are skipped)."""
        ...

    async def mark_delivered(self, notice: UUID, attempt: int, message_id: str,
                             now: datetime) -> None:
        """Delivered at attempt ``attempt``: never due again; the rendered payload is dropped."""
        ...

    async def mark_retry(self, notice: UUID, attempt: int, at: datetime, error: str) -> None:
        """Attempt ``attempt`` failed for now: due again at ``at``."""
        ...

    async def mark_failed(self, notice: UUID, attempt: int, error: str, now: datetime) -> None:
        """Given up at attempt ``attempt``: never due again; the rendered payload is dropped."""
        ...

    async def acknowledge(self, notice: UUID, now: datetime) -> str | None:
        """The recipient agency when this is the notice's first acknowledgement; ``None`` when
        it was already acknowledged or is unknown."""
        ...

    async def notice_exists(self, notice: UUID) -> bool:
        """Whether notifier knows ``notice``."""
        ...

    async def notice_summary(self, notice: UUID) -> NoticeSummary | None:
        """What an acknowledgement page shows of ``notice`` (no content), or ``None``."""
        ...

    async def save_meeting(self, meeting_id: UUID, info: MeetingInfo) -> None:
        """Remember a meeting's district, time and venue (a later schedule replaces them)."""
        ...

    async def get_meeting(self, meeting_id: UUID) -> MeetingInfo | None:
        """A remembered meeting, or ``None``."""
        ...

    async def save_situation(self, situation_id: UUID, originator: str, district: str) -> None:
        """Remember who referred a situation (the first one seen is kept)."""
        ...

    async def get_originator(self, situation_id: UUID) -> str | None:
        """The agency that referred ``situation_id``, or ``None``."""
        ...

    async def save_actor(self, command_id: UUID, actor: Actor) -> None:
        """Remember who issued a command (the first one seen is kept)."""
        ...

    async def get_actor(self, command_id: UUID) -> Actor | None:
        """Who issued ``command_id``, or ``None``."""
        ...

    async def save_pending_refusal(self, command_id: UUID, cause_id: UUID,
                                   event_json: str) -> None:
        """Keep a refusal whose command notifier has not seen yet (the first one is kept)."""
        ...

    async def pop_pending_refusal(self, command_id: UUID) -> tuple[UUID, str] | None:
        """The refusal waiting for ``command_id`` (removed), as (cause id, event JSON)."""
        ...


Stores = Callable[[Connection], NotifierStore]
"""A store per transaction: the PostgreSQL one (:class:`~services.notifier.store.PgNotifierStore`)
or, in the shell's unit tests, ``lambda conn: fake``."""
