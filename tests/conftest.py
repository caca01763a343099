"""Fixtures shared by every tier.

Integration, e2e and reliability tests talk to a real Kafka broker and a real PostgreSQL:
- when ``COMMANDE_KAFKA_BOOTSTRAP`` and ``COMMANDE_DATABASE_URL`` are set, those;
- else, when a Docker engine answers, containers started with testcontainers;
- else the embedded local stack (``commande stack up``), started for the session if needed.
Under ``CI=true`` a service that cannot be had fails the run; it is never skipped.
"""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from services.runtime.settings import Settings

# The suite runs the embedded stack's development mode (its keys, directory and credentials);
# tests of production refusals build their own settings with env="production".
os.environ.setdefault("COMMANDE_ENV", "development")


@dataclass(frozen=True)
class StackInfo:
    """Which broker and database the session used (printed at the end of the run)."""

    kind: str
    kafka: str
    postgres: str


_STASH = pytest.StashKey[StackInfo]()


def _docker_answers() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    with warnings.catch_warnings():
        # docker-py leaks its socket when the engine does not answer.
        warnings.simplefilter("ignore", ResourceWarning)
        answers = _ping_docker()
        gc.collect()
    return answers


def _ping_docker() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
    except Exception:
        return False
    try:
        client.ping()
    except Exception:
        return False
    finally:
        client.close()
    return True


def _from_containers() -> Iterator[Settings]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16", username="commande", password="commande",
                           dbname="commande") as pg, DockerContainer("apache/kafka:4.1.1") \
            .with_bind_ports(9092, 19092) \
            .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093") \
            .with_env("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://127.0.0.1:19092") as kafka:
        wait_for_logs(kafka, "Kafka Server started", timeout=90)
        url = pg.get_connection_url().replace("postgresql+psycopg2", "postgresql")
        # The containers' broker has no TLS listener: a development-only PLAINTEXT connection.
        yield Settings(kafka_bootstrap="127.0.0.1:19092", database_url=url,
                       kafka_security_protocol="PLAINTEXT")


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings pointing at a real Kafka and PostgreSQL for this session; the shared topics are
    read back from where they ended now (:func:`tests.support.kafka.pin_session_start`)."""
    from tests.support.kafka import pin_session_start

    for found in _stack(request):
        try:
            asyncio.run(pin_session_start(found))
        except Exception as exc:
            pytest.fail(f"no Kafka/PostgreSQL for the tests: {exc}", pytrace=False)
        yield found


def _stack(request: pytest.FixtureRequest) -> Iterator[Settings]:
    env = os.environ
    try:
        if env.get("COMMANDE_KAFKA_BOOTSTRAP") and env.get("COMMANDE_DATABASE_URL") and not env.get(
                "COMMANDE_TEST_STACK_UP"):
            found = Settings()
            request.config.stash[_STASH] = StackInfo(
                "given by the environment", found.kafka_bootstrap, _pg_version(found))
            yield found
            return
        if _docker_answers():
            for found in _from_containers():
                request.config.stash[_STASH] = StackInfo(
                    "testcontainers", f"apache/kafka:4.1.1 at {found.kafka_bootstrap}",
                    _pg_version(found))
                yield found
            return
        from deploy.local import stack

        found = Settings()
        stack.up(found)
        request.config.stash[_STASH] = StackInfo(
            "embedded local stack (commande stack up)",
            f"Apache Kafka {found.kafka_version} (KRaft) at {found.kafka_bootstrap}",
            _pg_version(found))
        yield found
    except Exception as exc:
        pytest.fail(f"no Kafka/PostgreSQL for the tests: {exc}", pytrace=False)


def _pg_version(settings: Settings) -> str:
    async def ask() -> str:
        conn = await asyncpg.connect(settings.database_url.get_secret_value())
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return f"PostgreSQL {version} at 127.0.0.1:{settings.database_port}"

    return asyncio.run(ask())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """Say which broker and database the run used."""
    info = config.stash.get(_STASH, None)
    if info is not None:
        terminalreporter.write_line(f"stack: {info.kind}")
        terminalreporter.write_line(f"  kafka:    {info.kafka}")
        terminalreporter.write_line(f"  postgres: {info.postgres}")


@pytest.fixture(scope="session")
async def admin_db(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test database without a service's search_path (for checks and cleanup)."""
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1,
                                     max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def keycloak(settings: Settings) -> str:
    """The issuer of the embedded Keycloak's realm for this session's stack (started, and the
    committed realm imported, if need be); a Keycloak that cannot be had fails the run."""
    from deploy.local import keycloak as embedded

    try:
        embedded.start(settings)
    except Exception as exc:
        pytest.fail(f"no Keycloak for the tests: {exc}", pytrace=False)
    return embedded.issuer(settings)
