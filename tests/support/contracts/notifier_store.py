"""What :class:`~services.notifier.ports.NotifierStore` promises, as tests any store must pass.

Subclass :class:`NotifierStoreContract` in a ``Test*`` class beside two fixtures: ``store``, a
store in one open transaction (rolled back, or thrown away, afterwards), and ``transactions``, a
:data:`Transactions` opening committed transactions of their own on one shared database (emptied
afterwards). ``tests/unit/test_notifier_store_fake.py`` runs it on the in-memory fake,
``tests/integration/test_notifier_store_pg.py`` on PostgreSQL. The tests assert only what the
port shows: what is due and in which order, acknowledgements, summaries, the remembered facts,
and community event requests' sealed contacts, purges, waiting facts and notices ended unsent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from uuid6 import uuid7

from schemas.base import Actor
from services.notifier.model import MeetingInfo
from services.notifier.ports import FailedNotice, NewNotice, NotifierStore, Waiting
from services.notifier.priority import Priority
from services.runtime.cipher import Sealed

Transactions = Callable[[], AbstractAsyncContextManager[NotifierStore]]
"""Opens a transaction of its own (on its own connection), committed when the block ends."""

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
FAR = T0 + timedelta(days=365)
PAYLOAD: dict[str, Any] = {"subject": "Synthetic subject", "text": "t", "html": "<p>h</p>",
                           "body": {"kind": "assignment", "n": 1}, "attachments": []}
MEETING = MeetingInfo("district_1", "regular", T0 + timedelta(days=1),
                      T0 + timedelta(days=1, hours=2), "Sample station, room A")


def notice(kind: str = "assignment", priority: Priority = Priority.ROUTINE, *,
           cause_id: UUID | None = None, recipient_key: str | None = None,
           notice_id: UUID | None = None, agency: str = "housing-services",
           channel: str = "email", request_id: UUID | None = None) -> NewNotice:
    """A synthetic notice (fresh ids unless given)."""
    return NewNotice(
        notice_id=notice_id or uuid7(), cause_id=cause_id or uuid7(),
        cause_topic="commande.situations.v1", kind=kind, recipient_agency=agency,
        recipient_key=recipient_key or f"{agency}/table/table+{uuid7()}@housing.example.org",
        channel=channel, address="table@housing.example.org", privacy="reference",
        payload=PAYLOAD, priority=priority, request_id=request_id)


def sealed(tag: str = "first") -> Sealed:
    """A synthetic sealed submission (opaque bytes, as the store sees it)."""
    return Sealed(f"key-{tag}", f"nonce-{tag}".encode().ljust(12, b"."),
                  f"ciphertext of the {tag} submission".encode())


def waiting(cause_id: UUID | None = None, n: int = 0) -> Waiting:
    """A synthetic fact waiting for its submission."""
    return Waiting(cause_id or uuid7(), "commande.event-requests.v1",
                   "ca.halton.commande.event_request.acknowledged.v1",
                   json.dumps({"request_id": str(uuid7()), "n": n, "topics": ["a", "b"]}))


def same_fact(got: Waiting, expected: Waiting) -> bool:
    """Equal up to how jsonb spells the fact's JSON."""
    return (got.cause_id, got.cause_topic, got.event_type, json.loads(got.event_json)) == (
        expected.cause_id, expected.cause_topic, expected.event_type,
        json.loads(expected.event_json))


async def due_ids(store: NotifierStore, now: datetime = FAR, limit: int = 100) -> list[UUID]:
    """The ids ``store.take_due`` gives, in its order."""
    return [d.notice_id for d in await store.take_due(now, limit)]


class NotifierStoreContract:
    """The notifier store's contract; subclasses provide the ``store`` and ``transactions``
    fixtures."""

    # -- inserting --------------------------------------------------------------------------

    async def test_inserting_counts_the_new_notices(self, store: NotifierStore) -> None:
        assert await store.insert_notices([], T0) == 0
        assert await store.insert_notices([notice(), notice()], T0) == 2
        assert len(await due_ids(store)) == 2

    async def test_a_repeated_notice_is_ignored_by_id_and_by_cause_recipient_and_kind(
            self, store: NotifierStore) -> None:
        first = notice()
        assert await store.insert_notices([first], T0) == 1
        assert await store.insert_notices([first], T0 + MINUTE) == 0
        same_three = notice(cause_id=first.cause_id, recipient_key=first.recipient_key)
        assert await store.insert_notices([same_three], T0) == 0
        other_kind = notice("sla_warning", cause_id=first.cause_id,
                            recipient_key=first.recipient_key)
        other_recipient = notice(cause_id=first.cause_id)
        assert await store.insert_notices([other_kind, other_recipient], T0) == 2
        assert sorted(await due_ids(store)) == sorted(
            [first.notice_id, other_kind.notice_id, other_recipient.notice_id])
        [kept] = [d for d in await store.take_due(FAR, 10) if d.notice_id == first.notice_id]
        assert kept.recipient_agency == first.recipient_agency

    async def test_a_repeat_within_one_batch_is_inserted_once(self, store: NotifierStore) -> None:
        n = notice()
        twin = notice(cause_id=n.cause_id, recipient_key=n.recipient_key)
        assert await store.insert_notices([n, twin, n], T0) == 1
        assert await due_ids(store) == [n.notice_id]

    # -- taking due notices -----------------------------------------------------------------

    async def test_a_taken_notice_has_what_the_attempt_needs(self, store: NotifierStore) -> None:
        n = notice("disclosure", channel="webhook", agency="mental-health-assoc")
        await store.insert_notices([n], T0)
        [d] = await store.take_due(T0, 10)
        assert (d.notice_id, d.cause_id, d.cause_topic, d.kind, d.recipient_agency, d.channel,
                d.address, d.attempts) == (n.notice_id, n.cause_id, n.cause_topic, "disclosure",
                                           "mental-health-assoc", "webhook", n.address, 0)
        assert d.payload == PAYLOAD

    async def test_a_notice_is_due_from_its_insertion_time(self, store: NotifierStore) -> None:
        n = notice()
        await store.insert_notices([n], T0)
        assert await due_ids(store, T0 - timedelta(microseconds=1)) == []
        assert await due_ids(store, T0) == [n.notice_id]

    async def test_urgent_notices_come_first_then_the_longest_due(
            self, store: NotifierStore) -> None:
        old = notice()
        await store.insert_notices([old], T0 - 10 * MINUTE)
        newer = notice()
        await store.insert_notices([newer], T0 - 5 * MINUTE)
        urgent_late = notice("escalation", Priority.URGENT)
        await store.insert_notices([urgent_late], T0)
        urgent_early = notice("command_rejected", Priority.URGENT)
        await store.insert_notices([urgent_early], T0 - MINUTE)
        assert await due_ids(store, T0) == [urgent_early.notice_id, urgent_late.notice_id,
                                            old.notice_id, newer.notice_id]

    async def test_take_due_takes_at_most_its_limit_in_order(self, store: NotifierStore) -> None:
        backlog = [notice() for _ in range(5)]
        for i, n in enumerate(backlog):
            await store.insert_notices([n], T0 + i * MINUTE)
        urgent = notice("escalation", Priority.URGENT)
        await store.insert_notices([urgent], T0 + 10 * MINUTE)
        assert await due_ids(store, FAR, 3) == [urgent.notice_id, backlog[0].notice_id,
                                                backlog[1].notice_id]
        # not yet due: the routine backlog goes on
        assert await due_ids(store, T0 + 2 * MINUTE, 2) == [backlog[0].notice_id,
                                                            backlog[1].notice_id]

    async def test_a_notice_taken_by_one_transaction_is_skipped_by_another(
            self, transactions: Transactions) -> None:
        first_due, second_due = notice(), notice()
        async with transactions() as setup:
            await setup.insert_notices([first_due], T0 - MINUTE)
            await setup.insert_notices([second_due], T0)
        async with transactions() as one:
            assert await due_ids(one, T0, 1) == [first_due.notice_id]
            async with transactions() as other:
                assert await due_ids(other, T0) == [second_due.notice_id]
            async with transactions() as third:
                assert await due_ids(third, T0) == [second_due.notice_id]
        async with transactions() as after:
            # the first transaction ended without recording anything: due again
            assert await due_ids(after, T0) == [first_due.notice_id, second_due.notice_id]

    async def test_what_one_transaction_records_is_seen_by_the_next(
            self, transactions: Transactions) -> None:
        n = notice()
        async with transactions() as setup:
            await setup.insert_notices([n], T0)
        async with transactions() as attempt:
            [d] = await attempt.take_due(T0, 10)
            await attempt.mark_retry(d.notice_id, 1, T0 + MINUTE, "smtp_4xx")
        async with transactions() as later:
            assert await due_ids(later, T0) == []
            [d] = await later.take_due(T0 + MINUTE, 10)
            assert d.attempts == 1

    # -- recording attempts -----------------------------------------------------------------

    async def test_a_retry_is_due_again_at_its_time_with_its_attempts(
            self, store: NotifierStore) -> None:
        n, other = notice(), notice()
        await store.insert_notices([n], T0)
        await store.insert_notices([other], T0 + MINUTE)
        await store.mark_retry(n.notice_id, 1, T0 + 5 * MINUTE, "webhook_5xx")
        assert await due_ids(store, T0 + 4 * MINUTE) == [other.notice_id]
        taken = await store.take_due(T0 + 5 * MINUTE, 10)
        assert [(d.notice_id, d.attempts) for d in taken] == [(other.notice_id, 0),
                                                              (n.notice_id, 1)]
        assert taken[1].payload == PAYLOAD
        await store.mark_retry(n.notice_id, 2, T0 + 20 * MINUTE, "webhook_5xx")
        [again] = [d for d in await store.take_due(FAR, 10) if d.notice_id == n.notice_id]
        assert again.attempts == 2

    async def test_a_delivered_or_failed_notice_is_never_due_again(
            self, store: NotifierStore) -> None:
        delivered, failed, pending = notice(), notice(), notice()
        await store.insert_notices([delivered, failed, pending], T0)
        await store.mark_delivered(delivered.notice_id, 1, "message-1", T0 + MINUTE)
        await store.mark_failed(failed.notice_id, 8, "smtp_5xx", T0 + MINUTE)
        assert await due_ids(store) == [pending.notice_id]
        # a late retry of a settled notice does not revive it
        await store.mark_retry(delivered.notice_id, 2, T0 + 2 * MINUTE, "late")
        assert await due_ids(store) == [pending.notice_id]
        assert await store.notice_exists(delivered.notice_id)
        assert await store.notice_exists(failed.notice_id)

    async def test_recording_an_unknown_notice_changes_nothing(
            self, store: NotifierStore) -> None:
        n = notice()
        await store.insert_notices([n], T0)
        unknown = uuid7()
        await store.mark_delivered(unknown, 1, "m", T0)
        await store.mark_retry(unknown, 1, T0, "e")
        await store.mark_failed(unknown, 1, "e", T0)
        assert not await store.notice_exists(unknown)
        assert await due_ids(store) == [n.notice_id]

    # -- acknowledgements -------------------------------------------------------------------

    async def test_the_first_acknowledgement_names_the_agency_and_later_ones_nothing(
            self, store: NotifierStore) -> None:
        n = notice(agency="public-health")
        await store.insert_notices([n], T0)
        assert await store.acknowledge(n.notice_id, T0 + MINUTE) == "public-health"
        assert await store.acknowledge(n.notice_id, T0 + 2 * MINUTE) is None
        summary = await store.notice_summary(n.notice_id)
        assert summary is not None
        assert summary.acknowledged_at == T0 + MINUTE

    async def test_a_delivered_notice_can_be_acknowledged(self, store: NotifierStore) -> None:
        n = notice()
        await store.insert_notices([n], T0)
        await store.mark_delivered(n.notice_id, 1, "message-1", T0 + MINUTE)
        assert await store.acknowledge(n.notice_id, T0 + 2 * MINUTE) == n.recipient_agency

    async def test_an_unknown_notice_is_neither_acknowledged_nor_summarised(
            self, store: NotifierStore) -> None:
        unknown = uuid7()
        assert await store.acknowledge(unknown, T0) is None
        assert not await store.notice_exists(unknown)
        assert await store.notice_summary(unknown) is None

    async def test_a_summary_names_kind_agency_and_insertion_time(
            self, store: NotifierStore) -> None:
        n = notice("escalation", Priority.URGENT, agency="hrps-cmb-d1")
        await store.insert_notices([n], T0)
        await store.mark_delivered(n.notice_id, 1, "message-1", T0 + MINUTE)
        summary = await store.notice_summary(n.notice_id)
        assert summary is not None
        assert (summary.kind, summary.recipient_agency, summary.sent_at,
                summary.acknowledged_at) == ("escalation", "hrps-cmb-d1", T0, None)

    # -- remembered facts -------------------------------------------------------------------

    async def test_a_meeting_is_remembered_and_a_later_schedule_replaces_it(
            self, store: NotifierStore) -> None:
        meeting_id = uuid7()
        assert await store.get_meeting(meeting_id) is None
        await store.save_meeting(meeting_id, MEETING)
        assert await store.get_meeting(meeting_id) == MEETING
        moved = MeetingInfo("district_2", "ad_hoc", T0 + timedelta(hours=3),
                            T0 + timedelta(hours=4), "Another room")
        await store.save_meeting(meeting_id, moved)
        assert await store.get_meeting(meeting_id) == moved

    async def test_a_situation_keeps_its_first_originator(self, store: NotifierStore) -> None:
        situation = uuid7()
        assert await store.get_originator(situation) is None
        await store.save_situation(situation, "public-health", "district_1")
        await store.save_situation(situation, "housing-services", "district_2")
        assert await store.get_originator(situation) == "public-health"

    async def test_a_command_keeps_its_first_actor(self, store: NotifierStore) -> None:
        command = uuid7()
        assert await store.get_actor(command) is None
        chair = Actor(agency_id="hrps-cmb-d1", role="table_chair")
        await store.save_actor(command, chair)
        await store.save_actor(command, Actor(agency_id="housing-services", role="lead_agency"))
        assert await store.get_actor(command) == chair

    async def test_a_waiting_refusal_is_popped_once(self, store: NotifierStore) -> None:
        command, cause = uuid7(), uuid7()
        assert await store.pop_pending_refusal(command) is None
        event = {"command_id": str(command), "reason": "sample_reason", "n": [1, 2]}
        await store.save_pending_refusal(command, cause, json.dumps(event))
        await store.save_pending_refusal(command, uuid7(), json.dumps({"later": True}))
        popped = await store.pop_pending_refusal(command)
        assert popped is not None
        assert popped[0] == cause
        assert json.loads(popped[1]) == event
        assert await store.pop_pending_refusal(command) is None

    # -- community event requests -----------------------------------------------------------

    async def test_a_request_keeps_its_first_sealed_contact(self, store: NotifierStore) -> None:
        request = uuid7()
        await store.lock_request(request)
        assert await store.get_contact(request) is None
        assert await store.save_contact(request, sealed("first"), T0)
        assert not await store.save_contact(request, sealed("second"), T0 + MINUTE)
        assert await store.get_contact(request) == sealed("first")
        assert await store.get_contact(uuid7()) is None
        assert not await store.is_purged(request)

    async def test_a_purge_deletes_the_contact_and_is_remembered(
            self, store: NotifierStore) -> None:
        request, other, never_seen = uuid7(), uuid7(), uuid7()
        await store.save_contact(request, sealed(), T0)
        await store.save_contact(other, sealed("other"), T0)
        assert await store.purge_contact(request, T0 + MINUTE)
        assert await store.get_contact(request) is None
        assert await store.is_purged(request)
        assert not await store.purge_contact(request, T0 + 2 * MINUTE)  # nothing left to delete
        assert await store.is_purged(request)
        assert not await store.purge_contact(never_seen, T0)
        assert await store.is_purged(never_seen)
        assert await store.get_contact(other) == sealed("other")
        assert not await store.is_purged(other)

    async def test_waiting_facts_are_popped_once_in_arrival_order_per_request(
            self, store: NotifierStore) -> None:
        request, other = uuid7(), uuid7()
        assert await store.pop_waiting(request) == []
        facts = [waiting(n=i) for i in range(3)]
        elsewhere = waiting(n=9)
        await store.park(request, facts[0], T0)
        await store.park(other, elsewhere, T0)
        await store.park(request, facts[1], T0 - MINUTE)  # arrival order, not time, rules
        await store.park(request, facts[2], T0)
        popped = await store.pop_waiting(request)
        assert len(popped) == 3
        assert all(same_fact(g, e) for g, e in zip(popped, facts, strict=True))
        assert await store.pop_waiting(request) == []
        [left] = await store.pop_waiting(other)
        assert same_fact(left, elsewhere)

    async def test_a_fact_parked_again_is_kept_once(self, store: NotifierStore) -> None:
        request = uuid7()
        fact = waiting()
        await store.park(request, fact, T0)
        await store.park(request, waiting(fact.cause_id, n=1), T0 + MINUTE)
        [kept] = await store.pop_waiting(request)
        assert same_fact(kept, fact)

    async def test_a_notice_recorded_failed_is_never_due_and_kept_once(
            self, store: NotifierStore) -> None:
        request = uuid7()
        n = notice("event_request_outcome", request_id=request)
        assert await store.insert_failed(n, "contact_purged", T0)
        assert not await store.insert_failed(n, "contact_purged", T0 + MINUTE)
        twin = notice("event_request_outcome", cause_id=n.cause_id,
                      recipient_key=n.recipient_key, request_id=request)
        assert not await store.insert_failed(twin, "contact_purged", T0)
        assert await store.insert_notices([n, twin], T0) == 0  # failed stays failed
        assert await store.notice_exists(n.notice_id)
        assert not await store.notice_exists(twin.notice_id)
        assert await due_ids(store) == []
        assert await store.fail_pending(request, "contact_purged", T0) == []
        summary = await store.notice_summary(n.notice_id)
        assert summary is not None
        assert (summary.kind, summary.sent_at) == ("event_request_outcome", T0)

    async def test_an_inserted_notice_is_not_recorded_failed(self, store: NotifierStore) -> None:
        n = notice("event_request", request_id=uuid7())
        assert await store.insert_notices([n], T0) == 1
        assert not await store.insert_failed(n, "requester_address_unusable", T0)
        assert await due_ids(store) == [n.notice_id]

    async def test_failing_a_request_ends_only_its_pending_notices(
            self, store: NotifierStore) -> None:
        request, other = uuid7(), uuid7()
        fresh = notice("event_request", request_id=request)
        retried = notice("event_request_acknowledgement", request_id=request)
        delivered = notice("event_request_outcome", request_id=request)
        others = notice("event_request", request_id=other)
        unrelated = notice()
        await store.insert_notices([fresh, retried, delivered, others, unrelated], T0)
        await store.mark_retry(retried.notice_id, 1, T0 + MINUTE, "smtp_4xx")
        await store.mark_delivered(delivered.notice_id, 1, "message-1", T0)
        ended = await store.fail_pending(request, "contact_purged", T0 + 2 * MINUTE)
        assert sorted(ended, key=lambda f: f.notice_id) == sorted([
            FailedNotice(fresh.notice_id, fresh.cause_id, "event_request", fresh.recipient_agency,
                         "email", 1),
            FailedNotice(retried.notice_id, retried.cause_id, "event_request_acknowledgement",
                         retried.recipient_agency, "email", 2)], key=lambda f: f.notice_id)
        assert sorted(await due_ids(store)) == sorted([others.notice_id, unrelated.notice_id])
        assert await store.fail_pending(request, "contact_purged", T0 + 3 * MINUTE) == []
        assert await store.acknowledge(delivered.notice_id, T0 + 3 * MINUTE) is not None
