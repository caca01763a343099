"""What the gateway's read model keeps for the table console, on the real PostgreSQL: the
situations' clocks, SLA alerts, who was invited and who acknowledged, sealed packages for their
recipients (gone when intake purges the identity), and event requests waiting for the CMB.

Records go through :class:`~services.gateway.readmodel.ReadModel` exactly as its consumer hands
them over (decoded from the bytes ``emit`` makes), in the gateway's own schema; ids are fresh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import pytest
from uuid6 import uuid7

from schemas.base import Message
from schemas.disclosures import DisclosureSealed
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestReminderDue,
    EventRequestScheduled,
)
from schemas.meetings import AgendaIssued, MeetingScheduled, ParticipantInvited
from schemas.notices import NoticeAcknowledged, NoticeDelivered
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AgencyTask,
    IdentityPurged,
    SituationConcluded,
    SituationOpened,
    SituationReopened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)
from services.gateway.console import store
from services.gateway.main import MIGRATIONS
from services.gateway.readmodel import ReadModel
from services.runtime import db, events
from services.runtime.clock import ManualClock
from services.runtime.db import Pool
from services.runtime.kafka import InRecord
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import Settings
from tests.support.samples import NOW, sample

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    found = await db.create_pool(settings, "gateway")
    await db.migrate(found, "gateway", {"runtime": RUNTIME_MIGRATIONS, "gateway": MIGRATIONS})
    yield found
    await found.close()


async def feed(pool: Pool, *messages: Message, source: str = "/commande/convening") -> list[str]:
    """Hand ``messages`` to the read model as its consumer would; their ``ce_id`` values."""
    model = ReadModel(ManualClock(NOW))
    ids = []
    async with pool.acquire() as conn, conn.transaction():
        for message in messages:
            out = events.emit(message, source=source)
            rec = InRecord(topic=message.topic.name, partition=0, offset=0, key=out.key,
                           value=out.value, headers=tuple(out.headers))
            await model.handle(conn, events.decode(rec), rec)
            ids.append(dict(out.headers)["ce_id"].decode())
    return ids


async def test_a_situations_clocks_alerts_and_conclusion(pool: Pool) -> None:
    sid, meeting = uuid7(), uuid7()
    confirmed, assigned = NOW + timedelta(days=1), NOW + timedelta(days=1, minutes=5)
    await feed(pool, sample(SituationOpened, situation_id=sid, district="district_1", opened_at=NOW),
               sample(SituationScheduled, situation_id=sid, meeting_id=meeting),
               sample(AerDecisionRecorded, situation_id=sid, meeting_id=meeting,
                      decision="confirmed", decided_at=confirmed),
               sample(AgenciesAssigned, situation_id=sid, meeting_id=meeting, assigned_at=assigned,
                      lead=AgencyTask(agency_id="public-health")),
               sample(SlaWarning, situation_id=sid, district="district_1", sla="first_contact",
                      warned_at=confirmed + timedelta(hours=24)),
               sample(SlaBreached, situation_id=sid, district="district_1", sla="first_contact",
                      breached_at=confirmed + timedelta(hours=48)))
    async with pool.acquire() as conn:
        row = await store.situation(conn, sid)
        assert row is not None
        assert (row["opened_at"], row["confirmed_at"], row["assigned_at"]) == (NOW, confirmed, assigned)
        assert row["meeting_id"] == meeting
        alerts = [a for a in await store.sla_alerts(conn, ["district_1"], NOW, NOW + timedelta(days=9))
                  if a["situation_id"] == sid]
        assert [a["kind"] for a in alerts] == ["breach", "warning"]
        # the Staff Sergeant of another district does not see them; nor does a page before they came
        assert not [a for a in await store.sla_alerts(conn, ["district_2"], NOW, NOW + timedelta(days=9))
                    if a["situation_id"] == sid]
        assert not [a for a in await store.sla_alerts(conn, ["district_1"], NOW, confirmed)
                    if a["situation_id"] == sid]
    await feed(pool, sample(SituationConcluded, situation_id=sid, conclusion="still_aer_other"))
    async with pool.acquire() as conn:
        assert (await store.situation(conn, sid) or {})["conclusion"] == "still_aer_other"
    await feed(pool, sample(SituationReopened, situation_id=sid, reason="risk_rose_again"))
    async with pool.acquire() as conn:
        row = await store.situation(conn, sid)
        assert row is not None
        assert (row["conclusion"], row["confirmed_at"], row["assigned_at"]) == (None, None, None)


async def test_who_was_invited_and_who_acknowledged(pool: Pool) -> None:
    meeting = uuid7()
    await feed(pool, sample(MeetingScheduled, meeting_id=meeting, district="district_1"),
               *(sample(ParticipantInvited, invitation_id=uuid7(), meeting_id=meeting, agency_id=a)
                 for a in ("housing-services", "public-health", "town-milton")))
    [housing, health] = await feed(
        pool, sample(AgendaIssued, meeting_id=meeting, agency_id="housing-services"),
        sample(AgendaIssued, meeting_id=meeting, agency_id="public-health"))
    read, unread = uuid7(), uuid7()
    await feed(pool, sample(NoticeDelivered, notice_id=read, recipient_agency="housing-services",
                            kind="invitation", cause_id=UUID(housing), delivered_at=NOW),
               sample(NoticeDelivered, notice_id=unread, recipient_agency="public-health",
                      kind="invitation", cause_id=UUID(health), delivered_at=NOW),
               sample(NoticeAcknowledged, notice_id=read, recipient_agency="housing-services",
                      acknowledged_at=NOW + timedelta(hours=1)),
               source="/commande/notifier")
    async with pool.acquire() as conn:
        invited = {r["agency_id"]: (r["delivered"], r["acknowledged_at"])
                   for r in await store.invited(conn, meeting)}
        notices = await store.notices_of(conn, ["housing-services"], 500)
    assert invited == {"housing-services": (True, NOW + timedelta(hours=1)),
                       "public-health": (True, None), "town-milton": (False, None)}
    assert any(n["notice_id"] == read and n["via"] == "link" for n in notices)


async def test_a_sealed_package_waits_for_its_recipient_until_the_identity_is_purged(
        pool: Pool) -> None:
    sid = uuid7()
    package = sample(DisclosureSealed, situation_id=sid, disclosure_id=uuid7(),
                     recipient_agency="public-health", disclosing_agency="housing-services")
    await feed(pool, package, source="/commande/intake")
    async with pool.acquire() as conn:
        found = await store.disclosure(conn, package.disclosure_id)
        assert found is not None
        assert found["recipient_agency"] == "public-health"
        assert DisclosureSealed.model_validate_json(found["package"]) == package
        assert not [p for p in await store.disclosures_of(conn, ["town-milton"])
                    if p["situation_id"] == sid]
    await feed(pool, sample(IdentityPurged, situation_id=sid, reason="inactive"), source="/commande/intake")
    async with pool.acquire() as conn:
        assert await store.disclosure(conn, package.disclosure_id) is None


async def test_an_event_request_waits_for_the_cmb_until_it_is_decided(pool: Pool) -> None:
    rid = uuid7()
    await feed(pool, sample(EventRequestAcknowledged, request_id=rid, district="district_1"),
               sample(EventRequestReminderDue, request_id=rid, district="district_1",
                      escalate_to="staff_sergeant"), source="/commande/intake")
    async with pool.acquire() as conn:
        [waiting] = [r for r in await store.event_requests_waiting(conn, ["district_1"])
                     if r["request_id"] == rid]
        assert (waiting["reminders"], waiting["escalated_to"]) == (1, "staff_sergeant")
        assert waiting["windows"]
        assert not [r for r in await store.event_requests_waiting(conn, ["district_2"])
                    if r["request_id"] == rid]
    await feed(pool, sample(EventRequestScheduled, request_id=rid, district="district_1"),
               source="/commande/intake")
    async with pool.acquire() as conn:
        assert not [r for r in await store.event_requests_waiting(conn, ["district_1"])
                    if r["request_id"] == rid]
