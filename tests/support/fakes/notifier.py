"""Notifier's state in memory: :class:`InMemoryNotifierStore` implements
:class:`~services.notifier.ports.NotifierStore` with the SQL store's semantics (passes
``tests/support/contracts/notifier_store.py``).

What it keeps of the SQL: a notice is unique by id and by (cause, recipient, kind) and a repeat is
ignored; due notices are taken by (priority, next attempt), oldest insertion first on a tie, and a
notice taken by one open transaction is skipped by the others (``FOR UPDATE SKIP LOCKED``); a
settled notice drops its payload; a meeting is replaced by a later schedule, while an originator,
a command's actor and a waiting refusal keep the first one seen. For community event requests: a
request keeps its first sealed contact, a purge deletes it and is remembered, a fact is parked once
(by cause id) and waiting facts are popped in arrival order, a notice recorded failed is unique as
an inserted one is, and a purge fails only the request's pending notices, one attempt more. What it
does not: transactions never roll back, a write to a notice another transaction holds does not
wait, and the request lock is a no-op (one event loop, no concurrent transactions to order).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from schemas.base import Actor
from services.notifier.model import MeetingInfo
from services.notifier.ports import Due, FailedNotice, NewNotice, NoticeSummary, Waiting
from services.runtime.cipher import Sealed


@dataclass(slots=True)
class NoticeRow:
    """One row of ``notices``, as the SQL store keeps it."""

    notice: NewNotice
    created_at: datetime
    seq: int
    payload: dict[str, Any] | None
    next_attempt_at: datetime | None
    state: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    message_id: str | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    acknowledged_at: datetime | None = None


@dataclass(slots=True)
class NotifierTables:
    """What every transaction of one fake database shares."""

    notices: dict[UUID, NoticeRow] = field(default_factory=dict)
    meetings: dict[UUID, MeetingInfo] = field(default_factory=dict)
    originators: dict[UUID, str] = field(default_factory=dict)
    actors: dict[UUID, Actor] = field(default_factory=dict)
    pending_refusals: dict[UUID, tuple[UUID, str]] = field(default_factory=dict)
    contacts: dict[UUID, Sealed] = field(default_factory=dict)
    """Request id -> its sealed submission."""
    purged: dict[UUID, datetime] = field(default_factory=dict)
    """Request id -> when its contact was purged."""
    waiting: dict[UUID, tuple[UUID, int, Waiting]] = field(default_factory=dict)
    """Cause id -> (request id, arrival order, the parked fact)."""
    held: dict[UUID, int] = field(default_factory=dict)
    """Notice id -> the transaction holding it (taken and not yet ended)."""
    wakes: int = 0
    """How many times the delivery loop was woken (``pg_notify`` after an insert)."""
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _tx: itertools.count[int] = field(default_factory=itertools.count)


class InMemoryNotifierStore:
    """One transaction over :class:`NotifierTables` (new tables unless given)."""

    def __init__(self, tables: NotifierTables | None = None) -> None:
        self.tables = tables if tables is not None else NotifierTables()
        self._tx = next(self.tables._tx)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InMemoryNotifierStore]:
        """Another transaction on the same tables; what it took is released when it ends."""
        other = InMemoryNotifierStore(self.tables)
        try:
            yield other
        finally:
            other.end()

    def end(self) -> None:
        """End this transaction: the notices it took are free for others again."""
        self.tables.held = {n: tx for n, tx in self.tables.held.items() if tx != self._tx}

    def row(self, notice: UUID) -> NoticeRow | None:
        """The row of ``notice`` (for tests that look at what the port does not show)."""
        return self.tables.notices.get(notice)

    async def insert_notices(self, notices: Sequence[NewNotice], now: datetime) -> int:
        added = 0
        for n in notices:
            if self._known(n):
                continue
            self.tables.notices[n.notice_id] = NoticeRow(
                notice=n, created_at=now, seq=next(self.tables._seq),
                payload=_jsonb(n.payload), next_attempt_at=now)
            added += 1
        if added:
            self.tables.wakes += 1
        return added

    async def take_due(self, now: datetime, limit: int) -> list[Due]:
        ready = sorted((int(r.notice.priority), r.next_attempt_at, r.seq, r)
                       for r in self.tables.notices.values()
                       if r.state == "pending" and r.next_attempt_at is not None
                       and r.next_attempt_at <= now
                       and self.tables.held.get(r.notice.notice_id, self._tx) == self._tx)
        due = [r for *_, r in ready[:limit]]
        for r in due:
            self.tables.held[r.notice.notice_id] = self._tx
        return [Due(notice_id=r.notice.notice_id, cause_id=r.notice.cause_id,
                    cause_topic=r.notice.cause_topic, kind=r.notice.kind,
                    recipient_agency=r.notice.recipient_agency, channel=r.notice.channel,
                    address=r.notice.address, payload=_jsonb(r.payload) if r.payload else {},
                    attempts=r.attempts) for r in due]

    async def mark_delivered(self, notice: UUID, attempt: int, message_id: str,
                             now: datetime) -> None:
        self._update(notice, state="delivered", attempts=attempt, message_id=message_id,
                     delivered_at=now, next_attempt_at=None, last_error=None, payload=None)

    async def mark_retry(self, notice: UUID, attempt: int, at: datetime, error: str) -> None:
        self._update(notice, attempts=attempt, next_attempt_at=at, last_error=error)

    async def mark_failed(self, notice: UUID, attempt: int, error: str, now: datetime) -> None:
        self._update(notice, state="failed", attempts=attempt, last_error=error, failed_at=now,
                     next_attempt_at=None, payload=None)

    async def acknowledge(self, notice: UUID, now: datetime) -> str | None:
        r = self.tables.notices.get(notice)
        if r is None or r.acknowledged_at is not None:
            return None
        r.acknowledged_at = now
        return r.notice.recipient_agency

    async def notice_exists(self, notice: UUID) -> bool:
        return notice in self.tables.notices

    async def notice_summary(self, notice: UUID) -> NoticeSummary | None:
        r = self.tables.notices.get(notice)
        if r is None:
            return None
        return NoticeSummary(kind=r.notice.kind, recipient_agency=r.notice.recipient_agency,
                             sent_at=r.created_at, acknowledged_at=r.acknowledged_at)

    async def save_meeting(self, meeting_id: UUID, info: MeetingInfo) -> None:
        self.tables.meetings[meeting_id] = info

    async def get_meeting(self, meeting_id: UUID) -> MeetingInfo | None:
        return self.tables.meetings.get(meeting_id)

    async def save_situation(self, situation_id: UUID, originator: str, district: str) -> None:
        self.tables.originators.setdefault(situation_id, originator)

    async def get_originator(self, situation_id: UUID) -> str | None:
        return self.tables.originators.get(situation_id)

    async def save_actor(self, command_id: UUID, actor: Actor) -> None:
        self.tables.actors.setdefault(command_id, actor.model_copy())

    async def get_actor(self, command_id: UUID) -> Actor | None:
        found = self.tables.actors.get(command_id)
        return None if found is None else found.model_copy()

    async def save_pending_refusal(self, command_id: UUID, cause_id: UUID,
                                   event_json: str) -> None:
        json.loads(event_json)  # the column is jsonb: not JSON is refused there too
        self.tables.pending_refusals.setdefault(command_id, (cause_id, event_json))

    async def pop_pending_refusal(self, command_id: UUID) -> tuple[UUID, str] | None:
        return self.tables.pending_refusals.pop(command_id, None)

    async def lock_request(self, request_id: UUID) -> None:
        return None  # one event loop: nothing runs between this transaction's awaits to order

    async def save_contact(self, request_id: UUID, sealed: Sealed, now: datetime) -> bool:
        if request_id in self.tables.contacts:
            return False
        self.tables.contacts[request_id] = sealed
        return True

    async def get_contact(self, request_id: UUID) -> Sealed | None:
        return self.tables.contacts.get(request_id)

    async def purge_contact(self, request_id: UUID, now: datetime) -> bool:
        self.tables.purged.setdefault(request_id, now)
        return self.tables.contacts.pop(request_id, None) is not None

    async def is_purged(self, request_id: UUID) -> bool:
        return request_id in self.tables.purged

    async def park(self, request_id: UUID, waiting: Waiting, now: datetime) -> None:
        json.loads(waiting.event_json)  # the column is jsonb
        self.tables.waiting.setdefault(waiting.cause_id,
                                       (request_id, next(self.tables._seq), waiting))

    async def pop_waiting(self, request_id: UUID) -> list[Waiting]:
        mine = sorted((seq, cause) for cause, (rid, seq, _) in self.tables.waiting.items()
                      if rid == request_id)
        return [self.tables.waiting.pop(cause)[2] for _, cause in mine]

    async def insert_failed(self, notice: NewNotice, error: str, now: datetime) -> bool:
        if self._known(notice):
            return False
        self.tables.notices[notice.notice_id] = NoticeRow(
            notice=notice, created_at=now, seq=next(self.tables._seq), payload=None,
            next_attempt_at=None, state="failed", attempts=1, last_error=error, failed_at=now)
        return True

    async def fail_pending(self, request_id: UUID, error: str,
                           now: datetime) -> list[FailedNotice]:
        ended: list[FailedNotice] = []
        for r in self.tables.notices.values():
            if r.notice.request_id == request_id and r.state == "pending":
                self._update(r.notice.notice_id, state="failed", attempts=r.attempts + 1,
                             last_error=error, failed_at=now, next_attempt_at=None, payload=None)
                ended.append(FailedNotice(r.notice.notice_id, r.notice.cause_id, r.notice.kind,
                                          r.notice.recipient_agency, r.notice.channel,
                                          r.attempts))
        return ended

    def _known(self, n: NewNotice) -> bool:
        """Whether the unique keys of ``notices`` already hold ``n`` (by id, or by cause,
        recipient and kind); a channel the check constraint refuses raises."""
        if n.channel not in ("email", "webhook"):
            raise asyncpg.CheckViolationError(f"channel {n.channel!r}: notices_channel_check")
        return n.notice_id in self.tables.notices or any(
            (r.notice.cause_id, r.notice.recipient_key, r.notice.kind)
            == (n.cause_id, n.recipient_key, n.kind) for r in self.tables.notices.values())

    def _update(self, notice: UUID, **changes: Any) -> None:
        """An UPDATE by notice id: nothing happens to an unknown notice."""
        r = self.tables.notices.get(notice)
        if r is not None:
            for name, value in changes.items():
                setattr(r, name, value)


def _jsonb(value: dict[str, Any]) -> dict[str, Any]:
    """A copy, through JSON as a jsonb column stores it (no shared mutable state, and what JSON
    cannot hold fails here as it would in PostgreSQL)."""
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied
