"""Notifier's shell for community event requests on the in-memory store: a submission kept
sealed, facts notified once it is there (or parked until it is), the requester and the CMB told
at the right privacy and priority, notices that cannot be sent recorded failed and said so once,
and a purge that deletes the contact and ends what can no longer be sent. No Kafka, no
PostgreSQL: what only ``tests/integration/test_notifier_event_requests.py`` reached before.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from uuid6 import uuid7

from schemas.event_requests import (
    CONFIRMATION_PATH,
    EventRequestAcknowledged,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestContactPurged,
    EventRequestDeclined,
    EventRequestEvent,
    EventRequestExpired,
    EventRequestRejected,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    Requester,
)
from schemas.notices import PUBLIC_REQUESTER, NoticeDelivered, NoticeFailed
from schemas.topics import NOTICES
from services.notifier.contacts import CipherError, ContactBox, Sealed
from services.notifier.ports import Due
from services.notifier.priority import Priority
from services.runtime.events import decode
from tests.support.notifier_shell import Channels, Shell, deliverer, published, record, settings
from tests.support.samples import REQUEST_ID, requester, sample

pytestmark = pytest.mark.unit

BOX = ContactBox.development()
WHO = requester()
EMAIL = "events@example.org"
"""The sample requester's e-mail (:func:`tests.support.samples.requester`)."""
PLACEHOLDER = f"event-request:{REQUEST_ID}"
"""The requester's notice row names the request, never them."""
MANAGER = "d1-cmb-manager@police.example.org"
"""District 1 CMB manager's role address in the sample directory."""


def opened(d: Due) -> dict[str, Any]:
    """The sealed payload of a request's notice, as the delivery loop opens it."""
    assert set(d.payload) == {"sealed"}
    return BOX.open_payload(d.notice_id, d.payload)


async def submitted(shell: Shell, submission: EventRequestSubmitted | None = None) -> None:
    """Hand the request's submission to the shell (it publishes nothing for it)."""
    assert not await shell.handle(record(submission or sample(EventRequestSubmitted)))


# -- the submission -----------------------------------------------------------------------------


async def test_a_submission_is_kept_sealed_and_the_first_one_stays() -> None:
    shell = Shell()
    first = sample(EventRequestSubmitted)
    await submitted(shell, first)
    sealed = shell.store.tables.contacts[REQUEST_ID]
    for word in (WHO.name, WHO.daytime_phone, EMAIL, "Sample Hall"):
        assert word is not None
        assert word.encode() not in sealed.ciphertext
    assert BOX.open_submission(REQUEST_ID, sealed) == first
    await submitted(shell, sample(EventRequestSubmitted,
                                  requester=Requester(name="Another", email="x@example.org")))
    assert BOX.open_submission(REQUEST_ID, shell.store.tables.contacts[REQUEST_ID]) == first
    assert await shell.pending() == []


# -- who is told, at which privacy and priority -------------------------------------------------


async def test_an_acknowledgement_reaches_the_cmb_manager_and_the_requester() -> None:
    shell = Shell()
    await submitted(shell)
    [cause] = await shell.feed(sample(EventRequestAcknowledged))
    due = await shell.pending()
    assert sorted((d.kind, d.recipient_agency, d.address) for d in due) == [
        ("event_request", "hrps-cmb-d1", MANAGER),
        ("event_request_acknowledgement", PUBLIC_REQUESTER, PLACEHOLDER)]
    for d in due:
        row = shell.store.row(d.notice_id)
        assert row is not None
        assert (d.cause_id, row.notice.privacy, row.notice.priority, row.notice.request_id) == (
            cause, "identified", Priority.ROUTINE, REQUEST_ID)
        assert EMAIL not in f"{row.notice.recipient_key} {row.notice.address} {d.payload}"
        payload = opened(d)
        assert str(REQUEST_ID) in payload["text"]
        assert payload.get("to") == (EMAIL if d.recipient_agency == PUBLIC_REQUESTER else None)
    [manager] = [d for d in due if d.kind == "event_request"]
    for needed in (WHO.name, WHO.daytime_phone, EMAIL, "Sample Hall"):
        assert needed is not None
        assert needed in opened(manager)["text"], needed

    channels = Channels()
    attempted, records = await deliverer(shell, channels).deliver(shell.store)
    assert attempted == 2
    assert sorted(to for to, _ in channels.sent) == sorted([EMAIL, MANAGER])
    assert all(isinstance(e, NoticeDelivered) for e in published(records))
    for rec in records:  # the notices topic never names the requester
        assert EMAIL.encode() not in rec.value
        assert (WHO.name or "").encode() not in rec.value


@pytest.mark.parametrize("fact", [EventRequestScheduled, EventRequestDeclined,
                                  EventRequestWithdrawn, EventRequestRejected])
async def test_the_requester_is_told_the_outcome(fact: type[EventRequestEvent]) -> None:
    shell = Shell()
    await submitted(shell)
    [cause] = await shell.feed(sample(fact))
    [d] = await shell.pending()
    assert (d.kind, d.recipient_agency, d.address, d.cause_id) == (
        "event_request_outcome", PUBLIC_REQUESTER, PLACEHOLDER, cause)
    row = shell.store.row(d.notice_id)
    assert row is not None
    assert (row.notice.privacy, row.notice.priority) == ("identified", Priority.ROUTINE)
    channels = Channels()
    await deliverer(shell, channels).deliver(shell.store)
    assert channels.sent == [(EMAIL, d.notice_id)]
    mail = channels.mails[d.notice_id]
    assert mail["X-Commande-Notice-Kind"] == "event_request_outcome"
    assert str(REQUEST_ID) in str(mail["Subject"])


async def test_the_confirmation_email_is_urgent_and_quotes_nothing_the_requester_wrote() -> None:
    shell = Shell(settings=settings(notifier_batch=1))
    await submitted(shell)
    await shell.feed(sample(EventRequestAcknowledged))
    shell.clock.advance(timedelta(minutes=5))
    [cause] = await shell.feed(sample(EventRequestConfirmationRequested))
    first, *routine = await shell.pending()
    assert (first.kind, first.recipient_agency, first.address, first.cause_id) == (
        "event_request_confirmation", PUBLIC_REQUESTER, PLACEHOLDER, cause)
    assert len(routine) == 2
    row = shell.store.row(first.notice_id)
    assert row is not None
    assert (row.notice.priority, row.notice.privacy) == (Priority.URGENT, "identified")
    payload = opened(first)
    assert payload["to"] == EMAIL
    link = f"{shell.settings.intake_public_url.rstrip('/')}{CONFIRMATION_PATH}"
    assert link in payload["text"]
    for written in (WHO.name, WHO.daytime_phone, "Sample Hall", "Phone scams"):
        assert written is not None
        assert written not in json.dumps(payload), written
    channels = Channels()
    assert (await deliverer(shell, channels).deliver(shell.store))[0] == 1
    assert channels.sent == [(EMAIL, first.notice_id)]


# -- order of arrival ---------------------------------------------------------------------------


async def test_a_fact_seen_before_its_submission_waits_for_it_once() -> None:
    shell = Shell()
    rec = record(sample(EventRequestAcknowledged))
    assert not await shell.handle(rec)
    assert not await shell.handle(rec)  # redelivered while it waits: still parked once
    assert await shell.pending() == []
    assert len(shell.store.tables.waiting) == 1
    await submitted(shell)
    due = await shell.pending()
    assert sorted(d.kind for d in due) == ["event_request", "event_request_acknowledgement"]
    assert {d.cause_id for d in due} == {decode(rec).id}
    assert shell.store.tables.waiting == {}


async def test_facts_that_notify_nobody_leave_no_trace() -> None:
    shell = Shell()
    await shell.feed(sample(EventRequestConfirmed), sample(EventRequestExpired))
    t = shell.store.tables
    assert (t.notices, t.contacts, t.waiting, t.purged, t.wakes) == ({}, {}, {}, {}, 0)


# -- notices that cannot be sent ----------------------------------------------------------------


async def test_an_unusable_requester_address_gives_one_failed_notice() -> None:
    shell = Shell()
    await submitted(shell, sample(EventRequestSubmitted,
                                  requester=Requester(name="Sample Requester",
                                                      email="not an address")))
    rec = record(sample(EventRequestAcknowledged))
    records = await shell.handle(rec)
    assert [r.topic for r in records] == [NOTICES.name]
    [failed] = published(records)
    assert isinstance(failed, NoticeFailed)
    assert (failed.kind, failed.recipient_agency, failed.cause_id, failed.channel,
            failed.attempt, failed.error, failed.permanent) == (
        "event_request_acknowledgement", PUBLIC_REQUESTER, decode(rec).id, "email", 1,
        "requester_address_unusable", True)
    row = shell.store.row(failed.notice_id)
    assert row is not None
    assert (row.state, row.payload, row.notice.request_id) == ("failed", None, REQUEST_ID)
    [d] = await shell.pending()  # the CMB manager is still told
    assert (d.kind, d.address) == ("event_request", MANAGER)
    assert not await shell.handle(rec), "redelivered: the failure is said once"
    assert len(await shell.pending()) == 1


async def test_a_contact_that_cannot_be_opened_is_an_error_not_a_silence() -> None:
    """A contact sealed under a key notifier no longer has raises (the consumer retries, then
    dead-letters): nothing is inserted as if the request had no requester."""
    shell = Shell()
    shell.store.tables.contacts[REQUEST_ID] = Sealed("retired-key", b"0" * 12, b"unreadable")
    with pytest.raises(CipherError):
        await shell.handle(record(sample(EventRequestAcknowledged)))
    assert await shell.pending() == []


# -- the purge ----------------------------------------------------------------------------------


async def test_a_purge_removes_the_contact_and_fails_what_can_no_longer_be_sent() -> None:
    shell = Shell()
    await submitted(shell)
    await shell.feed(sample(EventRequestAcknowledged))
    unsent = {d.notice_id for d in await shell.pending()}
    assert len(unsent) == 2
    purge = record(sample(EventRequestContactPurged))
    records = await shell.handle(purge)
    assert REQUEST_ID not in shell.store.tables.contacts
    assert await shell.store.is_purged(REQUEST_ID)
    failed = published(records)
    assert all(isinstance(f, NoticeFailed) and (f.error, f.permanent, f.attempt) == (
        "contact_purged", True, 1) for f in failed)
    assert {f.notice_id for f in failed if isinstance(f, NoticeFailed)} == unsent
    assert await shell.pending() == []
    assert not await shell.handle(purge), "redelivered: nothing more to fail"

    late = record(sample(EventRequestScheduled))
    [told] = published(await shell.handle(late))
    assert isinstance(told, NoticeFailed)
    assert (told.kind, told.recipient_agency, told.cause_id, told.error) == (
        "event_request_outcome", PUBLIC_REQUESTER, decode(late).id, "contact_purged")
    await submitted(shell)  # a submission after the purge is not kept
    assert REQUEST_ID not in shell.store.tables.contacts
    assert await shell.pending() == []


async def test_a_purge_fails_the_facts_that_waited_for_a_submission() -> None:
    shell = Shell()
    other = uuid7()
    [waited] = await shell.feed(sample(EventRequestDeclined, request_id=other))
    records = await shell.handle(record(sample(EventRequestContactPurged, request_id=other)))
    [failed] = published(records)
    assert isinstance(failed, NoticeFailed)
    assert (failed.cause_id, failed.kind, failed.error) == (
        waited, "event_request_outcome", "contact_purged")
    assert shell.store.tables.waiting == {}
    assert shell.store.tables.contacts == {}
