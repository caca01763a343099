"""The ports of community event requests: what the shell (:mod:`.handlers`, :mod:`.confirm`,
:mod:`.timers`) needs of a store, and what the HTTP route (:mod:`.ingress`) and the pruning
worker need of the shared limits, as typed ``Protocol`` classes.

A store is bound to one transaction's connection (:class:`EventRequestStores` makes one per
connection), so no method takes a connection: the consumer runtime's transaction (inbox, our
writes, outbox), a timer pass's, or a page's. Two implementations pass the same contract tests
(``tests/support/contracts/event_request_store.py``): the PostgreSQL one
(:class:`services.intake.event_requests.store.PgEventRequestStore`) and an in-memory fake the
shell's unit tests run on (``tests/support/fakes/event_requests.py``). The values are the pure
core's (:class:`~services.intake.event_requests.decide.EventRequestState`) and the vault's
(:class:`~services.intake.vault.Sealed`): nothing here knows of SQL.

The limits (:class:`EventLimits`) are bound the same way (:data:`EventLimitStores`): the
PostgreSQL implementation (:class:`services.intake.event_requests.rate_limit.PgEventLimits`,
made by :meth:`~services.intake.event_requests.rate_limit.SharedLimits.bound`) and an in-memory
fake with a clock of its own (``tests/support/fakes/event_limits.py``) pass one contract suite
(``tests/support/contracts/event_limits.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.intake.event_requests.decide import EventRequestState
from services.intake.event_requests.rate_limit import LimitConfig
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


class EventLimits(Protocol):
    """The limits of ``POST /v1/event-requests``, shared by every intake instance
    (:mod:`.rate_limit` says why and how): a token bucket per client address and a daily count
    per recipient address. Addresses are kept only as keyed hashes (the raw address never);
    the time is the limits' own (PostgreSQL's ``now()``), never the business clock."""

    @property
    def config(self) -> LimitConfig:
        """The limits' settings (a refusal quotes them)."""
        ...

    async def take(self, client: str) -> int | None:
        """Take a token from the bucket of the client address ``client``, refilled up to now
        (``per_minute`` a minute, at most ``burst``; an address never seen has a full one):
        ``None`` when one was taken, else (nothing is taken) the whole seconds until one is
        back, at least 1 (:func:`~.rate_limit.retry_after`, for ``Retry-After``)."""
        ...

    async def count_confirmation(self, email: str) -> int | None:
        """Count a confirmation e-mail to ``email`` today (America/Toronto; one inbox however
        the address is written: :func:`~.rate_limit.normalized_email`): ``None`` when counted,
        else (``confirmations_per_day`` were counted today, and nothing is) the whole seconds
        until midnight in Halton, at least 1 (for ``Retry-After``)."""
        ...

    async def prune(self) -> tuple[int, int]:
        """Forget the buckets idle for ``refill`` or longer (full again: the same as none) and
        the counts of past days; returns how many of each."""
        ...


EventLimitStores = Callable[[Connection], EventLimits]
"""Makes the limits of one connection (``SharedLimits.bound`` in the service; the unit tests
give one returning the in-memory fake)."""
