"""The port of community event requests: what the shell (:mod:`.handlers`, :mod:`.confirm`,
:mod:`.timers`) needs of a store, as a typed ``Protocol``.

A store is bound to one transaction's connection (:class:`EventRequestStores` makes one per
connection), so no method takes a connection: the consumer runtime's transaction (inbox, our
writes, outbox), a timer pass's, or a page's. Two implementations pass the same contract tests
(``tests/support/contracts/event_request_store.py``): the PostgreSQL one
(:class:`services.intake.event_requests.store.PgEventRequestStore`) and an in-memory fake the
shell's unit tests run on (``tests/support/fakes/event_requests.py``). The values are the pure
core's (:class:`~services.intake.event_requests.decide.EventRequestState`) and the vault's
(:class:`~services.intake.vault.Sealed`): nothing here knows of SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.intake.event_requests.decide import EventRequestState
from services.intake.vault import Sealed
from services.runtime.db import Connection
from services.runtime.timers import TimerStore


class EventRequestStore(Protocol):
    """The requests' follow-up state and their encrypted contact details."""

    async def get_request(self, request_id: UUID, *,
                          nowait: bool = False) -> EventRequestState | None:
        """A request's state, locked until the transaction ends (a second consumer and the
        confirmation page wait), or ``None`` when unknown. ``nowait``: a lock held by another
        transaction is not waited for (``asyncpg.LockNotAvailableError``): the timer loop,
        which holds the timer's row, never waits for a request while a handler holding the
        request moves its timers."""
        ...

    async def peek_request(self, request_id: UUID) -> EventRequestState | None:
        """A request's state without locking it (what a page shows), or ``None``."""
        ...

    async def save_request(self, state: EventRequestState) -> None:
        """Insert a new request, or record a known one's follow-up. A known request keeps what
        its submission fixed (kind, municipality, district, agency id, last preferred date and
        whether it had contact details): only its follow-up state changes."""
        ...

    async def save_contact(self, request_id: UUID, sealed: Sealed, now: datetime) -> None:
        """The encrypted contact details of a request saved before (once per request: a second
        one, or one for an unknown request, is an integrity error)."""
        ...

    async def get_contact(self, request_id: UUID) -> Sealed | None:
        """The encrypted contact details, or ``None`` (never stored, or purged)."""
        ...

    async def delete_contact(self, request_id: UUID) -> None:
        """Destroy the contact details of a request (nothing happens when there are none)."""
        ...

    @property
    def timer_store(self) -> TimerStore:
        """The schema's durable timers (the runtime's, :mod:`services.runtime.timers`), in the
        same transaction: a request's reminder and purge timers follow its ``next_reminder_at``
        and ``purge_after`` (:func:`services.intake.event_requests.timers.save`)."""
        ...


EventRequestStores = Callable[[Connection], EventRequestStore]
"""Makes the store of one transaction's connection (the PostgreSQL one in the service; the
shell's unit tests give one that returns the in-memory fake)."""
