"""Notifier's shell on the in-memory store: events in, notices inserted (which kinds, to whom, at
which privacy, with which facts), repeats ignored, refusals waiting for their command; then the
delivery loop's batch on the same store (delivered, retried, given up, urgent first), the
acknowledgements, and the records they publish. No Kafka, no PostgreSQL, no network: the
channels are scripted.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import cast

import pytest
from uuid6 import uuid7

from schemas.base import Actor
from schemas.commands import AssignAgencies
from schemas.disclosures import DisclosureSealed
from schemas.meetings import (
    AgendaIssued,
    AgendaItem,
    AgendaMeeting,
    CommandRejected,
    MeetingScheduled,
    UrgentSituationAdded,
)
from schemas.notices import NoticeAcknowledged, NoticeDelivered, NoticeFailed
from schemas.referrals import ReferralRejected
from schemas.situations import (
    AgenciesAssigned,
    AgencyTask,
    SituationConcluded,
    SituationOpened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)
from schemas.topics import DLQ, NOTICES
from services.notifier import tokens
from services.notifier.acks import AckOutcome, acknowledged
from services.notifier.channels import DeliveryError
from services.notifier.model import notice_id
from services.runtime.events import decode
from services.runtime.kafka import InRecord
from tests.support.fakes.notifier import InMemoryNotifierStore
from tests.support.notifier_shell import (
    SECRET,
    Channels,
    Shell,
    deliverer,
    published,
    record,
    settings,
)
from tests.support.samples import NOW, sample, summary

pytestmark = pytest.mark.unit

NARRATIVE = summary().narrative
HOOK = "https://api.mentalhealth.example.org/hooks/commande"
"""mental-health-assoc's webhook in the sample directory (its sealed disclosures go there)."""


# -- consuming: which notices each event causes ------------------------------------------------


async def test_each_kind_reaches_exactly_its_recipients_at_its_privacy_level() -> None:
    shell = Shell()
    situation, meeting = uuid7(), uuid7()
    item = AgendaItem(position=1, situation_id=situation, priority="routine", summary=summary())
    facts = AgendaMeeting(district="district_1", kind="regular",
                          starts_at=NOW + timedelta(days=2),
                          ends_at=NOW + timedelta(days=2, hours=2),
                          venue="Synthetic station room 4, as the agenda says")
    await shell.feed(
        sample(MeetingScheduled, meeting_id=meeting, starts_at=NOW + timedelta(days=2),
               ends_at=NOW + timedelta(days=2, hours=2), venue="Synthetic station room 4"),
        sample(AgendaIssued, meeting_id=meeting, agency_id="housing-services", items=(item,),
               meeting=facts),
        sample(AgendaIssued, meeting_id=meeting, agency_id="youth-mental-health",
               items=(item,), meeting=facts),
        sample(AgendaIssued, meeting_id=meeting, agency_id="housing-services", kind="update",
               revision=2, items=(item,), meeting=None),
        # town-milton opted out of non-essential notices: no agenda update for it.
        sample(AgendaIssued, meeting_id=meeting, agency_id="town-milton", kind="update",
               revision=2, items=(item,), meeting=None),
        sample(SituationOpened, situation_id=situation, originating_agency="addiction-services"),
        sample(AgenciesAssigned, situation_id=situation, meeting_id=meeting,
               lead=AgencyTask(agency_id="housing-services"),
               assisting=(AgencyTask(agency_id="public-health"),)),
        sample(DisclosureSealed, situation_id=situation, disclosure_id=uuid7(),
               recipient_agency="public-health", disclosing_agency="addiction-services"),
        sample(DisclosureSealed, situation_id=situation, disclosure_id=uuid7(),
               recipient_agency="mental-health-assoc", disclosing_agency="addiction-services"),
        sample(SlaWarning, situation_id=situation, district="district_1",
               agency_id="housing-services"),
        sample(SlaBreached, situation_id=situation, district="district_1",
               agency_id="housing-services"),
        sample(SituationConcluded, situation_id=situation, meeting_id=meeting),
        sample(CommandRejected, command_id=uuid7(), target_id=situation,
               actor=Actor(agency_id="hrps-cmb-d1", role="table_chair")),
        sample(ReferralRejected, agency_id="public-health", referral_ref="NOTIFIER-SHELL"),
    )
    due = await shell.pending()
    assert Counter((d.kind, d.address) for d in due) == Counter({
        ("invitation", "table@housing.example.org"): 1,
        ("invitation", "table@youthwellbeing.example.org"): 1,
        ("agenda", "table@housing.example.org"): 1,
        ("assignment", "table@housing.example.org"): 1,
        ("assignment", "table@publichealth.example.org"): 1,
        ("disclosure", "privacy@publichealth.example.org"): 1,
        ("disclosure", HOOK): 1,
        ("sla_warning", "d1-staff-sergeant@police.example.org"): 1,
        ("sla_warning", "table@housing.example.org"): 1,
        ("escalation", "d1-staff-sergeant@police.example.org"): 1,
        ("referral_status", "intake@addictionsupport.example.org"): 1,
        ("command_rejected", "d1-commande-chair@police.example.org"): 1,
        ("referral_status", "intake@publichealth.example.org"): 1,
    })
    for d in due:
        row = shell.store.row(d.notice_id)
        assert row is not None
        text = d.payload["text"] if d.channel == "email" else str(d.payload["body"])
        if d.kind in ("invitation", "agenda"):
            assert row.notice.privacy == "deidentified"
            assert NARRATIVE in text
            # the meeting's facts come from the agenda, else from MeetingScheduled
            assert ("as the agenda says" in text) == (d.kind == "invitation")
            assert "Synthetic station room 4" in text
        else:
            assert row.notice.privacy in ("reference", "sealed")
            assert NARRATIVE not in text
        if d.channel == "email":
            assert "http://notifier.test/ack/" in d.payload["text"]
        assert bool(d.payload["attachments"]) == (d.kind == "disclosure")
        if d.channel == "webhook":
            body = d.payload["body"]
            assert (body["kind"], body["privacy"], body["notice_id"]) == (
                "disclosure", "sealed", str(d.notice_id))
            assert body["event"]["ciphertext"] == sample(DisclosureSealed).ciphertext


async def test_a_notice_carries_its_signed_acknowledgement_link() -> None:
    shell = Shell()
    [cause] = await shell.feed(sample(SlaBreached, agency_id="housing-services"))
    [d] = await shell.pending()
    assert d.notice_id == notice_id(cause, "hrps-cmb-d1/staff_sergeant/"
                                    "d1-staff-sergeant@police.example.org", "escalation")
    token = d.payload["text"].split("http://notifier.test/ack/")[1].split()[0]
    assert tokens.verify(SECRET, token, NOW) == d.notice_id
    ttl = timedelta(hours=shell.settings.notifier_ack_ttl_hours)
    with pytest.raises(tokens.ExpiredToken):
        tokens.verify(SECRET, token, NOW + ttl + timedelta(seconds=1))
    summary_ = await shell.store.notice_summary(d.notice_id)
    assert summary_ is not None
    assert (summary_.kind, summary_.recipient_agency, summary_.sent_at) == (
        "escalation", "hrps-cmb-d1", NOW)


async def test_a_redelivered_event_inserts_nothing_more() -> None:
    shell = Shell()
    rec = record(sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"),
                        assisting=(AgencyTask(agency_id="public-health"),)))
    await shell.handle(rec)
    first = await shell.pending()
    assert len(first) == 2
    assert shell.store.tables.wakes == 1
    await shell.handle(rec)
    assert await shell.pending() == first
    assert shell.store.tables.wakes == 1, "nothing new: the delivery loop is not woken"


async def test_an_ad_hoc_meetings_agenda_is_taken_before_routine_notices() -> None:
    shell = Shell()
    await shell.feed(sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"),
                            assisting=()))
    shell.clock.advance(timedelta(minutes=5))
    ad_hoc = AgendaMeeting(district="district_1", kind="ad_hoc",
                           starts_at=NOW + timedelta(hours=20),
                           ends_at=NOW + timedelta(hours=21), venue="Sample station")
    await shell.feed(sample(AgendaIssued, agency_id="housing-services", meeting=ad_hoc))
    assert [d.kind for d in await shell.pending()] == ["invitation", "assignment"]


async def test_an_urgent_situation_goes_to_the_chair_before_routine_notices() -> None:
    shell = Shell()
    await shell.feed(sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"),
                            assisting=()))
    shell.clock.advance(timedelta(minutes=5))
    added = sample(UrgentSituationAdded, agency_id="hrps-cmb-d1")
    await shell.feed(added)
    first, second = await shell.pending()
    assert (first.kind, first.recipient_agency, first.address) == (
        "urgent_situation", "hrps-cmb-d1", "d1-commande-chair@police.example.org")
    assert second.kind == "assignment"
    assert "Sample station, meeting room A" in first.payload["text"], \
        "the meeting's facts come with the event (notifier needs no mirror of it)"


async def test_an_agenda_without_facts_for_an_unknown_meeting_still_goes_out() -> None:
    shell = Shell()
    await shell.feed(sample(AgendaIssued, agency_id="housing-services", meeting_id=uuid7(),
                            meeting=None))
    [d] = await shell.pending()
    assert d.kind == "invitation"


async def test_a_conclusion_whose_situation_notifier_never_saw_has_no_recipient() -> None:
    shell = Shell()
    await shell.feed(sample(SituationConcluded, situation_id=uuid7()))
    assert await shell.pending() == []
    assert shell.store.tables.wakes == 0


async def test_the_first_originator_seen_is_the_one_told_of_the_conclusion() -> None:
    shell = Shell()
    situation = uuid7()
    await shell.feed(
        sample(SituationOpened, situation_id=situation, originating_agency="public-health"),
        sample(SituationOpened, situation_id=situation, originating_agency="housing-services"),
        sample(SituationConcluded, situation_id=situation))
    [d] = await shell.pending()
    assert (d.kind, d.recipient_agency) == ("referral_status", "public-health")


async def test_events_notifier_does_not_notify_about_leave_no_trace() -> None:
    shell = Shell()
    await shell.feed(sample(SituationScheduled), sample(NoticeDelivered))
    t = shell.store.tables
    assert (t.notices, t.meetings, t.originators, t.actors, t.pending_refusals, t.wakes) == (
        {}, {}, {}, {}, {}, 0)


# -- refusals and their command's actor ----------------------------------------------------------


async def test_a_refusal_seen_before_its_command_waits_for_the_actor() -> None:
    shell = Shell()
    command = sample(AssignAgencies, actor=Actor(agency_id="housing-services",
                                                 role="lead_agency"))
    command_rec = record(command)
    command_id = decode(command_rec).id
    refusal = record(sample(CommandRejected, command_id=command_id, actor=None))
    assert await shell.handle(refusal) == ()
    assert await shell.handle(refusal) == ()  # redelivered: still one waiting refusal
    assert await shell.pending() == []
    assert list(shell.store.tables.pending_refusals) == [command_id]

    assert await shell.handle(command_rec) == ()
    [d] = await shell.pending()
    assert (d.kind, d.address, d.cause_id) == ("command_rejected", "table@housing.example.org",
                                               decode(refusal).id)
    assert "sample_reason" in d.payload["text"]
    assert shell.store.tables.pending_refusals == {}
    assert await shell.handle(command_rec) == ()  # the command again: nothing more
    assert len(await shell.pending()) == 1


async def test_a_refusal_after_its_command_goes_to_the_commands_actor() -> None:
    shell = Shell()
    command_rec = record(sample(AssignAgencies, actor=Actor(agency_id="housing-services",
                                                            role="lead_agency")))
    await shell.handle(command_rec)
    await shell.feed(sample(CommandRejected, command_id=decode(command_rec).id, actor=None))
    [d] = await shell.pending()
    assert (d.kind, d.recipient_agency) == ("command_rejected", "housing-services")
    assert shell.store.tables.pending_refusals == {}


async def test_a_refusal_naming_its_actor_needs_no_command() -> None:
    shell = Shell()
    await shell.feed(sample(CommandRejected, command_id=uuid7(),
                            actor=Actor(agency_id="housing-services", role="lead_agency")))
    [d] = await shell.pending()
    assert (d.kind, d.address) == ("command_rejected", "table@housing.example.org")
    assert shell.store.tables.pending_refusals == {}


# -- the delivery loop's batch on the same store -----------------------------------------------


TRANSIENT = DeliveryError("webhook_5xx", permanent=False)


async def test_due_notices_are_delivered_once_and_said_so() -> None:
    shell = Shell()
    channels = Channels()
    await shell.feed(sample(DisclosureSealed, recipient_agency="mental-health-assoc",
                            disclosing_agency="housing-services"),
                     sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"),
                            assisting=()))
    due = await shell.pending()
    assert {d.channel for d in due} == {"email", "webhook"}
    attempted, records = await deliverer(shell, channels).deliver(shell.store)
    assert attempted == len(due) == 2
    assert sorted(channels.sent) == sorted([(d.address, d.notice_id) for d in due])
    events = published(records)
    assert all(isinstance(e, NoticeDelivered) and e.attempt == 1 for e in events)
    assert {cast(NoticeDelivered, e).notice_id for e in events} == {d.notice_id for d in due}
    assert {r.topic for r in records} == {NOTICES.name}
    # each names the event that caused its notice, and carries notifier's clock
    for rec in records:
        env = decode(InRecord(rec.topic, 0, 0, rec.key, rec.value, rec.headers))
        assert isinstance(env.event, NoticeDelivered)
        assert env.causationid == str(env.event.cause_id)
        assert env.time == shell.clock.now()
    assert await shell.pending() == []
    assert await deliverer(shell, channels).deliver(shell.store) == (0, [])


async def test_a_transient_failure_is_retried_at_the_time_it_announces() -> None:
    shell = Shell()
    channels = Channels({HOOK: [TRANSIENT]})
    await shell.feed(sample(DisclosureSealed, recipient_agency="mental-health-assoc",
                            disclosing_agency="housing-services"))
    _, records = await deliverer(shell, channels).deliver(shell.store)
    [failed] = [e for e in published(records) if isinstance(e, NoticeFailed)]
    assert (failed.error, failed.permanent, failed.attempt) == ("webhook_5xx", False, 1)
    assert failed.next_attempt_at is not None
    base = timedelta(seconds=shell.settings.notifier_backoff_base)
    assert NOW + base / 2 <= failed.next_attempt_at <= NOW + base
    assert await shell.store.take_due(failed.next_attempt_at - timedelta(microseconds=1), 10) == []
    shell.clock.set(failed.next_attempt_at)
    attempted, records = await deliverer(shell, channels).deliver(shell.store)
    assert attempted == 1
    [delivered] = published(records)
    assert isinstance(delivered, NoticeDelivered)
    assert (delivered.notice_id, delivered.attempt) == (failed.notice_id, 2)


async def test_a_permanent_failure_is_given_up_with_a_dead_letter() -> None:
    shell = Shell()
    channels = Channels({HOOK: [DeliveryError("webhook_4xx", permanent=True)]})
    await shell.feed(sample(DisclosureSealed, recipient_agency="mental-health-assoc",
                            disclosing_agency="housing-services"))
    _, records = await deliverer(shell, channels).deliver(shell.store)
    assert sorted(r.topic for r in records) == sorted([NOTICES.name, DLQ.name])
    [failed] = published([r for r in records if r.topic == NOTICES.name])
    assert isinstance(failed, NoticeFailed)
    assert (failed.error, failed.permanent) == ("webhook_4xx", True)
    [letter] = [r for r in records if r.topic == DLQ.name]
    assert dict(letter.headers)["error"] == b"webhook_4xx (permanent)"
    assert await shell.pending() == []
    assert await deliverer(shell, channels).deliver(shell.store) == (0, [])


async def test_a_notice_is_given_up_after_its_last_attempt() -> None:
    shell = Shell(settings=settings(notifier_max_attempts=2))
    channels = Channels({HOOK: [TRANSIENT, TRANSIENT]})
    await shell.feed(sample(DisclosureSealed, recipient_agency="mental-health-assoc",
                            disclosing_agency="housing-services"))
    await deliverer(shell, channels).deliver(shell.store)
    shell.clock.advance(timedelta(days=1))
    _, records = await deliverer(shell, channels).deliver(shell.store)
    [failed] = published([r for r in records if r.topic == NOTICES.name])
    assert isinstance(failed, NoticeFailed)
    assert (failed.attempt, failed.permanent) == (2, True)
    [letter] = [r for r in records if r.topic == DLQ.name]
    assert dict(letter.headers)["error"] == b"webhook_5xx (attempts_exhausted)"
    assert await shell.pending() == []


async def test_a_batch_takes_urgent_notices_first() -> None:
    shell = Shell(settings=settings(notifier_batch=1))
    channels = Channels()
    await shell.feed(sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"),
                            assisting=()))
    shell.clock.advance(timedelta(minutes=5))
    [escalation] = await shell.feed(sample(SlaBreached, agency_id="housing-services"))
    assert (await deliverer(shell, channels).deliver(shell.store))[0] == 1
    [(_, first)] = channels.sent
    assert first == notice_id(escalation, "hrps-cmb-d1/staff_sergeant/"
                              "d1-staff-sergeant@police.example.org", "escalation")


# -- acknowledgements ---------------------------------------------------------------------------


async def test_a_notice_is_acknowledged_once_and_said_so_once() -> None:
    shell = Shell()
    await shell.feed(sample(SlaBreached, agency_id="housing-services"))
    [d] = await shell.pending()
    later = NOW + timedelta(hours=1)
    outcome, records = await acknowledged(shell.store, d.notice_id, later, "link")
    assert outcome == AckOutcome.ACKNOWLEDGED
    [event] = published(records)
    assert isinstance(event, NoticeAcknowledged)
    assert (event.notice_id, event.recipient_agency, event.via, event.acknowledged_at) == (
        d.notice_id, "hrps-cmb-d1", "link", later)
    assert [r.topic for r in records] == [NOTICES.name]
    again = await acknowledged(shell.store, d.notice_id, later + timedelta(minutes=1), "api")
    assert again == (AckOutcome.ALREADY, [])
    summary_ = await shell.store.notice_summary(d.notice_id)
    assert summary_ is not None
    assert summary_.acknowledged_at == later


async def test_an_unknown_notice_is_not_acknowledged() -> None:
    assert await acknowledged(InMemoryNotifierStore(), uuid7(), NOW, "link") == (
        AckOutcome.UNKNOWN, [])
