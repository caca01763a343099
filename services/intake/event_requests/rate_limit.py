"""The limits of ``POST /v1/event-requests``, shared by every intake instance: their PostgreSQL
implementation (of the port :class:`~services.intake.event_requests.ports.EventLimits`).

* **Per client address**, a token bucket: each address starts with ``burst`` tokens and gets
  ``per_minute`` back per minute, up to ``burst``; a request takes one (429 when none is left).
  One row per address in ``event_rate_buckets``, refilled and taken from in one atomic upsert
  (:data:`TAKE_FROM_BUCKET`), so two instances allow the same rate as one.
* **Per recipient address**, a daily count: one e-mail address is sent at most
  ``confirmations_per_day`` confirmation e-mails per day (America/Toronto), whichever client
  addresses the requests come from (:data:`COUNT_CONFIRMATION`): the endpoint cannot be used to
  flood a stranger's inbox.

Neither address is stored: rows are keyed by a keyed hash (HMAC-SHA256 under a key derived from
the vault key, :meth:`services.intake.vault.Vault.fingerprint`), which nobody can reverse by
trying every IPv4 address or a list of e-mail addresses without that key. Rotating the vault key
starts every count afresh. A bucket idle long enough to be full again is the same as no row, and
is pruned (:data:`PRUNE_BUCKETS`), like the counts of past days (:data:`PRUNE_COUNTS`).

The time is PostgreSQL's (``now()``), not the service's clock: one clock for every instance (no
skew between their clocks adds or withholds tokens), and the limits are about real traffic, which
the business clock the demo and tests move (days or years ahead) must not refill or freeze.

:class:`SharedLimits` holds the settings and the keyed hash; :meth:`SharedLimits.bound` makes the
store of one connection (:class:`PgEventLimits`), like the requests' store. Its in-memory twin
(``tests/support/fakes/event_limits.py``, with a clock of its own) passes the same contract
suite (``tests/support/contracts/event_limits.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from services.runtime.db import Connection

TAKE_FROM_BUCKET = """
INSERT INTO event_rate_buckets AS b (client_key, tokens, allowed, seen_at)
VALUES ($1, $2::float8 - 1, true, now())
ON CONFLICT (client_key) DO UPDATE SET
    tokens = event_bucket_level(b.tokens, b.seen_at, now(), $2, $3)
             - (event_bucket_level(b.tokens, b.seen_at, now(), $2, $3) >= 1)::int,
    allowed = event_bucket_level(b.tokens, b.seen_at, now(), $2, $3) >= 1,
    seen_at = now()
RETURNING allowed, tokens
"""
"""Refill the bucket of ``$1`` (burst ``$2``, ``$3`` tokens per second) up to now and take a
token when there is one; returns whether it was taken and what is left. ``SET`` reads the old
row, and the upsert holds the row's lock: concurrent requests from any instance queue on it
(``event_bucket_level`` is in ``sql/020_event_request_confirmation.sql``)."""
COUNT_CONFIRMATION = """
INSERT INTO event_confirmation_counts AS c (recipient_key, day, sent)
VALUES ($1, (now() AT TIME ZONE 'America/Toronto')::date, 1)
ON CONFLICT (recipient_key, day) DO UPDATE SET sent = c.sent + 1 WHERE c.sent < $2
RETURNING sent
"""
"""Count one confirmation e-mail to ``$1`` today (Halton) unless ``$2`` were already counted
(no row returned: over the limit)."""
PRUNE_BUCKETS = "DELETE FROM event_rate_buckets WHERE seen_at < now() - make_interval(secs => $1)"
"""Buckets idle for ``$1`` seconds or more: full again, the same as no row."""
PRUNE_COUNTS = """
DELETE FROM event_confirmation_counts WHERE day < (now() AT TIME ZONE 'America/Toronto')::date
"""
"""The counts of past days."""
UNTIL_TOMORROW = """
SELECT EXTRACT(EPOCH FROM (date_trunc('day', now() AT TIME ZONE 'America/Toronto')
                           + interval '1 day') - (now() AT TIME ZONE 'America/Toronto'))::float8
"""
"""Seconds until midnight in Halton, when the daily counts start again."""


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """The limits' settings.

    Attributes:
        burst: requests a client address may send at once.
        per_minute: tokens a client address gets back per minute.
        confirmations_per_day: confirmation e-mails one address may be sent per day.
    """

    burst: int = 5
    per_minute: float = 2.0
    confirmations_per_day: int = 3

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_minute <= 0 or self.confirmations_per_day < 1:
            raise ValueError("burst and confirmations_per_day must be >= 1, per_minute > 0")

    @property
    def per_second(self) -> float:
        """Tokens back per second."""
        return self.per_minute / 60.0

    @property
    def refill(self) -> timedelta:
        """How long an empty bucket takes to be full again (an idle row past it is pruned)."""
        return timedelta(seconds=self.burst / self.per_second)


def retry_after(tokens: float, per_second: float) -> int:
    """Whole seconds until a bucket holding ``tokens`` (< 1) has one again (>= 1)."""
    return max(1, math.ceil((1.0 - tokens) / per_second))


def normalized_email(email: str) -> str:
    """The mailbox an address reaches, as far as one can tell: case folded, and without a
    ``+tag`` (``someone+1@example.org`` and ``Someone@example.org`` are one inbox at most
    providers, and count as one recipient)."""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


class SharedLimits:
    """The two limits as intake configures them: their settings and the keyed hash of their row
    keys; :meth:`bound` makes the PostgreSQL store of one connection (see the module's
    docstring), the ``limits`` of the HTTP route and of the pruning worker.

    Args:
        config: the limits.
        keyed_hash: a keyed hash (the vault's fingerprint), so no address is stored in clear.
    """

    def __init__(self, config: LimitConfig, keyed_hash: Callable[[bytes], bytes]) -> None:
        self.config = config
        self._hash = keyed_hash

    def client_key(self, client: str) -> bytes:
        """The row key of a client address."""
        return self._hash(b"event-request-client\x00" + client.encode())

    def recipient_key(self, email: str) -> bytes:
        """The row key of an e-mail address (normalised: :func:`normalized_email`)."""
        return self._hash(b"event-request-recipient\x00" + normalized_email(email).encode())

    def bound(self, conn: Connection) -> PgEventLimits:
        """The limits over ``conn`` (an
        :data:`~services.intake.event_requests.ports.EventLimitStores`)."""
        return PgEventLimits(conn, self)


class PgEventLimits:
    """The limits in intake's schema, over one connection (the port's semantics:
    :class:`~services.intake.event_requests.ports.EventLimits`). Outside a transaction each
    statement has its own ``now()``; inside one, the transaction's."""

    def __init__(self, conn: Connection, limits: SharedLimits) -> None:
        self._conn = conn
        self._limits = limits

    @property
    def config(self) -> LimitConfig:
        """The limits' settings."""
        return self._limits.config

    async def take(self, client: str) -> int | None:
        """Take a token for ``client``: ``None`` if allowed, else the whole seconds to wait
        before a token is back (for ``Retry-After``)."""
        row = await self._conn.fetchrow(TAKE_FROM_BUCKET, self._limits.client_key(client),
                                        float(self.config.burst), self.config.per_second)
        assert row is not None  # an upsert always returns its row
        if row["allowed"]:
            return None
        return retry_after(float(row["tokens"]), self.config.per_second)

    async def count_confirmation(self, email: str) -> int | None:
        """Count a confirmation e-mail to ``email`` today (Halton time): ``None`` if counted,
        else (that address was already sent ``confirmations_per_day`` today, and nothing is
        counted) the whole seconds until tomorrow (for ``Retry-After``)."""
        sent = await self._conn.fetchval(COUNT_CONFIRMATION, self._limits.recipient_key(email),
                                         self.config.confirmations_per_day)
        if sent is not None:
            return None
        seconds = float(await self._conn.fetchval(UNTIL_TOMORROW))
        return max(1, math.ceil(seconds))

    async def prune(self) -> tuple[int, int]:
        """Delete buckets idle long enough to be full again and the counts of past days;
        returns how many of each."""
        buckets = await self._conn.execute(PRUNE_BUCKETS, self.config.refill.total_seconds())
        counts = await self._conn.execute(PRUNE_COUNTS)
        return _deleted(buckets), _deleted(counts)


def _deleted(status: str) -> int:
    """The row count of a ``DELETE n`` command status."""
    return int(status.rsplit(" ", 1)[-1]) if status.startswith("DELETE") else 0
