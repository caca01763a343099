"""Urgent notices are taken before routine ones, however many routine ones are due and however
long they have waited (a scratch schema with notifier's migrations: no delivery loop competes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from uuid6 import uuid7

from services.notifier.main import MIGRATIONS
from services.notifier.ports import NewNotice
from services.notifier.priority import Priority
from services.notifier.store import PgNotifierStore
from services.runtime.db import Pool
from services.runtime.settings import Settings
from tests.support.scratch import scratch_schema

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    async with scratch_schema(settings, "notifier", MIGRATIONS) as found:
        yield found


def notice(kind: str, priority: Priority) -> NewNotice:
    return NewNotice(
        notice_id=uuid7(), cause_id=uuid7(), cause_topic="commande.meetings.v1", kind=kind,
        recipient_agency="halton-police", recipient_key=f"halton-police/table/{uuid7()}",
        channel="email", address="table@halton-police.example.org", privacy="reference",
        payload={"subject": "s"}, priority=priority)


async def test_an_urgent_notice_is_taken_before_a_backlog_of_older_routine_ones(
        pool: Pool) -> None:
    async with pool.acquire() as conn:
        store = PgNotifierStore(conn)
        backlog = [notice("assignment", Priority.ROUTINE) for _ in range(60)]
        assert await store.insert_notices(backlog, NOW - timedelta(minutes=10)) == 60
        urgent = notice("invitation", Priority.URGENT)
        assert await store.insert_notices([urgent], NOW) == 1
        async with conn.transaction():
            first = await store.take_due(NOW, 10)
        assert first[0].notice_id == urgent.notice_id
        assert [d.notice_id for d in first[1:]] == [n.notice_id for n in backlog[:9]]
        later = notice("escalation", Priority.URGENT)
        assert await store.insert_notices([later], NOW + timedelta(minutes=1)) == 1
        async with conn.transaction():
            # not yet due: the routine backlog goes on
            assert [d.notice_id for d in await store.take_due(NOW, 2)] == [
                urgent.notice_id, backlog[0].notice_id]
