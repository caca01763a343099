"""Console sessions and sign-in attempts in PostgreSQL (schema ``gateway``).

A browser holds a random id in an ``HttpOnly`` cookie; the table keeps its SHA-256, the groups
the access token granted (agencies and posts, nobody's name), the CSRF token of the session's
forms, the ID token sealed under a key derived from the cookie (only to end the provider's
session at sign-out), and the idle and absolute expiry, judged on real time. A sign-in attempt
keeps its state, nonce and PKCE verifier for ten minutes, bound to the browser by another cookie,
and is used once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.gateway.console import security
from services.runtime.db import Connection, Pool

INSERT_LOGIN = """
INSERT INTO console_logins (login_hash, state, nonce, verifier, return_to, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""
TAKE_LOGIN = """
DELETE FROM console_logins WHERE login_hash = $1 AND created_at > $2
RETURNING state, nonce, verifier, return_to
"""
INSERT_SESSION = """
INSERT INTO console_sessions (session_hash, groups, csrf, id_token_sealed, created_at, idle_until,
                              expires_at)
VALUES ($1, $2::text[], $3, $4, $5, $6, $7)
"""
GET_SESSION = """
SELECT groups, csrf, id_token_sealed, idle_until, expires_at FROM console_sessions
WHERE session_hash = $1
"""
TOUCH_SESSION = "UPDATE console_sessions SET idle_until = $2 WHERE session_hash = $1"
END_SESSION = "DELETE FROM console_sessions WHERE session_hash = $1 RETURNING id_token_sealed"
PRUNE_SESSIONS = """
DELETE FROM console_sessions
WHERE LEAST(idle_until, expires_at) < now() - make_interval(days => $1)
"""
PRUNE_LOGINS = "DELETE FROM console_logins WHERE created_at < now() - make_interval(days => $1)"
PRUNES = (("console_sessions", PRUNE_SESSIONS, 0), ("console_logins", PRUNE_LOGINS, 1))
"""Hourly by the outbox housekeeping worker: sessions as soon as they are over, abandoned
sign-ins after a day."""


def now() -> datetime:
    """Real time (sessions and sign-ins never follow the services' clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A sign-in attempt taken back from the database."""

    state: str
    nonce: str
    verifier: str
    return_to: str


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: who (groups), its CSRF token, and when it ends."""

    session_id: str
    groups: tuple[str, ...]
    csrf: str
    expires_at: datetime


async def begin_login(pool: Pool, login_id: str, state: str, nonce: str, verifier: str,
                      return_to: str) -> None:
    """Keep a sign-in attempt under the hash of the browser's login cookie."""
    async with pool.acquire() as conn:
        await conn.execute(INSERT_LOGIN, security.digest(login_id), state, nonce, verifier,
                           return_to, now())


async def take_login(pool: Pool, login_id: str) -> Attempt | None:
    """The attempt of this browser, once (deleted as it is read), if begun within ten minutes."""
    since = now() - timedelta(minutes=security.LOGIN_MINUTES)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(TAKE_LOGIN, security.digest(login_id), since)
    return None if row is None else Attempt(row["state"], row["nonce"], row["verifier"],
                                            row["return_to"])


async def open_session(pool: Pool, lifetimes: security.Lifetimes, groups: tuple[str, ...],
                       id_token: str) -> Session:
    """A new session; its id is returned once, for the cookie, and never stored."""
    session_id, csrf = security.random_token(), security.random_token()
    opened = now()
    idle_until, expires_at = lifetimes.opened(opened)
    sealed = security.seal_for_session(session_id, id_token)
    async with pool.acquire() as conn:
        await conn.execute(INSERT_SESSION, security.digest(session_id), list(groups), csrf, sealed,
                           opened, idle_until, expires_at)
    return Session(session_id, groups, csrf, expires_at)


async def find_session(pool: Pool, lifetimes: security.Lifetimes,
                       session_id: str | None) -> Session | security.SessionState | None:
    """The live session of this cookie (its idle time moved on), the reason it ended (``IDLE``
    or ``EXPIRED``: the row is deleted), or ``None`` when there is no such session."""
    if not session_id or len(session_id) > 100:
        return None
    key = security.digest(session_id)
    at = now()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(GET_SESSION, key)
        if row is None:
            return None
        state = lifetimes.judge(row["idle_until"], row["expires_at"], at)
        if state is not security.SessionState.LIVE:
            await conn.execute(END_SESSION, key)
            return state
        await conn.execute(TOUCH_SESSION, key, lifetimes.touched(row["expires_at"], at))
    return Session(session_id, tuple(row["groups"]), row["csrf"], row["expires_at"])


async def end_session(conn: Connection, session_id: str) -> str | None:
    """Delete the session; its ID token (for the provider's sign-out), if it opens."""
    sealed = await conn.fetchval(END_SESSION, security.digest(session_id))
    if not isinstance(sealed, bytes | bytearray | memoryview):
        return None
    return security.open_for_session(session_id, bytes(sealed))
