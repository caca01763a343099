"""Notifier's acknowledgement pages (``GET``/``POST /ack/{token}``) on the in-memory store: what
a recipient's browser (and a mail scanner) gets, in milliseconds (``tests/integration`` shows the
same pages on the stack). The notice comes from the shell's handler, as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
from starlette.applications import Starlette

from schemas.envelope import from_record
from schemas.notices import NoticeAcknowledged
from schemas.situations import SlaBreached
from schemas.topics import NOTICES
from services.notifier import acks, tokens
from tests.support.fakes.pool import OutboxPool, started
from tests.support.notifier_shell import SECRET, Shell
from tests.support.samples import NOW, sample

pytestmark = pytest.mark.unit


@dataclass
class Pages:
    client: httpx.AsyncClient
    shell: Shell
    outbox: OutboxPool
    token: str
    """A genuine link's token for the one notice."""

    def acknowledged(self) -> list[NoticeAcknowledged]:
        out = []
        for r in self.outbox.published:
            event = from_record(r.headers, r.value, topic=r.topic).event
            assert isinstance(event, NoticeAcknowledged)
            assert r.topic == NOTICES.name
            out.append(event)
        return out


@pytest.fixture
async def pages() -> AsyncIterator[Pages]:
    shell, pool = Shell(), OutboxPool()
    await shell.feed(sample(SlaBreached, agency_id="housing-services"))
    [due] = await shell.pending()
    token = tokens.sign(SECRET, due.notice_id, NOW + timedelta(days=7))
    app = Starlette(routes=acks.routes(started("notifier", pool), SECRET, shell.clock,
                                       stores=lambda conn: shell.store))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://notifier") as client:
        yield Pages(client, shell, pool, token)


async def test_following_the_link_shows_the_notice_and_records_nothing(pages: Pages) -> None:
    for _ in range(2):  # a mail scanner, then the person
        page = await pages.client.get(f"/ack/{pages.token}")
        assert page.status_code == 200
        assert "an escalation sent to hrps-cmb-d1" in page.text
        assert "<form" in page.text
    assert pages.outbox.published == []


async def test_the_button_acknowledges_once_and_the_page_then_says_when(pages: Pages) -> None:
    pages.shell.clock.advance(timedelta(minutes=30))
    first = await pages.client.post(f"/ack/{pages.token}")
    assert (first.status_code, "Thank you" in first.text) == (200, True)
    again = await pages.client.post(f"/ack/{pages.token}")
    assert (again.status_code, "already acknowledged" in again.text) == (200, True)
    [event] = pages.acknowledged()
    assert (event.recipient_agency, event.via, event.acknowledged_at) == (
        "hrps-cmb-d1", "link", NOW + timedelta(minutes=30))

    shown = await pages.client.get(f"/ack/{pages.token}")
    assert "It was acknowledged on" in shown.text
    assert "<form" not in shown.text


async def test_a_tampered_expired_or_unknown_link_records_nothing(pages: Pages) -> None:
    tampered = pages.token[:-2] + ("A" if pages.token[-2] != "A" else "B") + pages.token[-1]
    unknown = tokens.sign(SECRET, uuid4(), NOW + timedelta(days=7))
    expired = tokens.sign(SECRET, uuid4(), NOW - timedelta(seconds=1))
    for token, status, words in ((tampered, 400, "not a valid"), (expired, 410, "expired"),
                                 (unknown, 404, "unknown")):
        for method in ("GET", "POST"):
            page = await pages.client.request(method, f"/ack/{token}")
            assert (page.status_code, words in page.text) == (status, True), (method, token)
    assert pages.outbox.published == []
