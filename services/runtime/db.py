"""The asyncpg pool and the per-service migration runner.

Each service owns one PostgreSQL schema. Its pool sets ``search_path`` to that schema, so the
service's SQL names its tables without a prefix and never reads another service's tables.
Migrations are numbered ``NNN_name.sql`` files applied in order at start, each in its own
transaction, recorded in ``<schema>.schema_migrations``, under an advisory lock so that two
instances starting together do not race.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

from schemas.errors import ConfigurationError, TransientError
from services.runtime.settings import Settings

if TYPE_CHECKING:  # asyncpg-stubs: what a pool hands out is a proxy of a connection
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    """What stores and handlers are given: a connection, or the pool's proxy of one."""
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Acquired: TypeAlias = PoolConnectionProxy[asyncpg.Record]
    """A connection taken with ``await pool.acquire()``, to be given back with ``pool.release``."""
else:
    from asyncpg import Connection, Pool
    from asyncpg.pool import PoolConnectionProxy as Acquired

__all__ = ["DB_UNAVAILABLE", "Acquired", "Connection", "Pool", "create_pool", "load_migrations", "migrate"]

RUNTIME_SQL = Path(__file__).with_name("sql")
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

#: Errors that mean "the database is not there right now": retry, never drop.
DB_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str


def load_migrations(folder: Path) -> list[Migration]:
    """The migrations in ``folder``, ordered; fails on a misnamed file or a repeated number."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ConfigurationError(f"migration {path} is not named NNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ConfigurationError(f"two migrations numbered {version:03d} in {folder}")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


async def create_pool(settings: Settings, schema: str, *, min_size: int | None = None,
                      max_size: int | None = None) -> Pool:
    """A pool whose connections work in ``schema``; raises TransientError if unreachable."""
    if not _SCHEMA.match(schema):
        raise ConfigurationError(f"bad schema name {schema!r}")
    try:
        pool = await asyncpg.create_pool(
            settings.database_url.get_secret_value(),
            min_size=settings.db_pool_min if min_size is None else min_size,
            max_size=settings.db_pool_max if max_size is None else max_size,
            server_settings={"search_path": schema, "application_name": f"commande-{schema}"},
            reset=_as_left,
        )
    except DB_UNAVAILABLE as exc:
        raise TransientError(f"PostgreSQL is not reachable: {type(exc).__name__}") from exc
    assert pool is not None
    result: Pool = pool
    return result


async def _as_left(conn: asyncpg.Connection) -> None:
    """A released connection goes back to the pool as it was left (asyncpg has already rolled
    back any open transaction): our statements leave no session state (transaction-scoped locks,
    ``SET LOCAL``), and the two that do clean up after themselves (:func:`migrate`'s lock, a
    worker's ``LISTEN``). asyncpg's default reset (``RESET ALL``, ``UNLISTEN *``, ``CLOSE ALL``,
    unlock all) cost a round trip on every release: 2% of intake's CPU in the pipeline bench
    (py-spy), and a round trip more between a batch's commit and its offsets' commit."""


_LEDGER = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
    source     text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, version)
);
"""


async def migrate(pool: Pool, schema: str, folders: dict[str, Path]) -> list[str]:
    """Apply the pending migrations of each ``{source: folder}`` in ``schema``; returns their names.

    ``source`` is ``runtime`` for the shared inbox/outbox tables and the service's name for its
    own, so both number from 001 without clashing.
    """
    if not _SCHEMA.match(schema):
        raise ConfigurationError(f"bad schema name {schema!r}")
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext('commande.migrate.' || $1))", schema)
        try:
            await conn.execute(_LEDGER.format(schema=schema))
            done = {(r["source"], r["version"]) for r in await conn.fetch(
                f"SELECT source, version FROM {schema}.schema_migrations")}
            for source, folder in folders.items():
                for mig in load_migrations(folder):
                    if (source, mig.version) in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(f"SET LOCAL search_path TO {schema}")
                        await conn.execute(mig.sql)
                        await conn.execute(
                            f"INSERT INTO {schema}.schema_migrations (source, version, name) "
                            "VALUES ($1, $2, $3)", source, mig.version, mig.name)
                    applied.append(f"{source}/{mig.version:03d}_{mig.name}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('commande.migrate.' || $1))",
                               schema)
    return applied
