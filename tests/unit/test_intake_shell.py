"""intake's shell on the in-memory store: each handler's load -> decide -> save -> emit, with
no Kafka and no PostgreSQL (what ``tests/integration/test_intake_service.py`` shows end to end,
in milliseconds). Records come in as the consumer reads them (signed by their agency, or from
convening) and what the shell returns is decoded with the envelope helpers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

import pytest
from nacl.signing import SigningKey

from directory import DirectoryHolder
from schemas.base import Message
from schemas.disclosures import DisclosureSealed
from schemas.envelope import Envelope, from_record, to_record
from schemas.errors import InvalidBody
from schemas.reference import reference
from schemas.referrals import (
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
    ReferralWithdrawn,
    SituationSummary,
)
from schemas.signing import sign_record
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AgencyTask,
    AssignmentResponded,
    IdentityPurged,
    SituationConcluded,
    SituationOpened,
    SituationReopened,
)
from schemas.topics import REFERRAL_STATUS, REFERRALS, SITUATIONS, SITUATIONS_URGENT
from services.intake import purging, retention, sealing, timer_loop
from services.intake.decide import DUPLICATE
from services.intake.handlers import Intake
from services.intake.ports import Assignment
from services.intake.provenance import CONVENING, partner_source
from services.intake.rules import RuleConfig
from services.intake.settings import DEFAULT_DISCLOSURE_FIELDS
from services.intake.signing import development_signing_key
from services.intake.vault import Vault
from services.runtime import timers as runtime
from services.runtime.clock import ManualClock
from services.runtime.db import Connection
from services.runtime.decision import Decided, Unchanged
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.settings import PROJECT_ROOT
from tests.support.fakes.intake import InMemoryIntakeStore
from tests.support.fakes.pool import OutboxPool
from tests.support.samples import CHAIR, NOW, sample, subject, summary

pytestmark = pytest.mark.unit

AGENCY = "mental-health-assoc"
LEAD, HELPER = "housing-services", "public-health"
START = NOW + timedelta(minutes=5)
CONN = cast(Connection, None)
"""The shell passes its connection to the store factory only; the fake needs none."""
INTAKE_KEY = sealing.development_private_key("intake")


@pytest.fixture
def store() -> InMemoryIntakeStore:
    return InMemoryIntakeStore()


@pytest.fixture(scope="module")
def directory() -> DirectoryHolder:
    """The development directory, read once (the shell only reads it)."""
    return DirectoryHolder(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")


@pytest.fixture
def intake(store: InMemoryIntakeStore, directory: DirectoryHolder) -> Intake:
    return Intake(clock=ManualClock(START), vault=Vault.development(), intake_key=INTAKE_KEY,
                  signing_key=development_signing_key("intake"), directory=directory,
                  reference=reference(), config=RuleConfig(), require_sealed=False,
                  disclosure_fields=dict(DEFAULT_DISCLOSURE_FIELDS), retention_days=90,
                  stores=lambda conn: store)


def referral(ref: str, **overrides: Any) -> ReferralSubmitted:
    """A referral as a partner sends it, its subject sealed to intake."""
    fields: dict[str, Any] = {"agency_id": AGENCY, "referral_ref": ref, "subject": None,
                              "sealed_subject": sealing.seal_subject(subject(),
                                                                     INTAKE_KEY.public_key)}
    return sample(ReferralSubmitted, **{**fields, **overrides})


def withdrawal(ref: str) -> ReferralWithdrawn:
    return sample(ReferralWithdrawn, agency_id=AGENCY, referral_ref=ref)


def consumed(rec: Any) -> InRecord:
    return InRecord(topic=rec.topic, partition=0, offset=0, key=rec.key, value=rec.value,
                    headers=tuple(rec.headers))


def from_agency(event: ReferralSubmitted | ReferralWithdrawn,
                signer: SigningKey | None = None) -> InRecord:
    """The record of ``event`` signed by its agency (or by ``signer``)."""
    rec = to_record(event, source=partner_source(event.agency_id), time=START)
    return consumed(sign_record(rec, signer or development_signing_key(event.agency_id)))


def from_producer(event: Message, source: str = CONVENING) -> InRecord:
    return consumed(to_record(event, source=source, time=START))


def decoded(out: OutRecord) -> Envelope[Message]:
    return from_record(out.headers, out.value, topic=out.topic)


def envelope(rec: InRecord) -> Envelope[Message]:
    return from_record(rec.headers, rec.value, topic=rec.topic)


async def on_referral(intake: Intake, rec: InRecord) -> list[Message]:
    return [decoded(o).event for o in await intake.on_referral(CONN, envelope(rec), rec)]


async def on_situation(intake: Intake, rec: InRecord) -> list[Message]:
    return [decoded(o).event for o in await intake.on_situation(CONN, envelope(rec), rec)]


async def accepted(intake: Intake, ref: str) -> UUID:
    _, answer = await on_referral(intake, from_agency(referral(ref)))
    assert isinstance(answer, ReferralAccepted)
    return answer.situation_id


def assigned(situation_id: UUID, lead: str = LEAD, *assisting: str,
             release: str = "filter_3") -> AgenciesAssigned:
    return sample(AgenciesAssigned, situation_id=situation_id, lead=AgencyTask(agency_id=lead),
                  assisting=tuple(AgencyTask(agency_id=a) for a in assisting),
                  identity_release=release, assigned_by=CHAIR)


# -- referrals -------------------------------------------------------------------------------


async def test_a_signed_referral_opens_a_deidentified_situation_and_is_accepted(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    rec = from_agency(referral("R-1"))
    out = await intake.on_referral(CONN, envelope(rec), rec)
    assert [o.topic for o in out] == [SITUATIONS.name, REFERRAL_STATUS.name]
    opened, answer = (decoded(o) for o in out)
    assert isinstance(opened.event, SituationOpened)
    assert isinstance(answer.event, ReferralAccepted)
    assert answer.event.situation_id == opened.event.situation_id
    assert (answer.event.district, answer.event.duplicate) == ("district_1", False)
    assert answer.causationid == str(envelope(rec).id)
    assert b"Sample" not in out[0].value  # the subject stays in the vault
    sid = opened.event.situation_id
    sealed = store.vault[sid]
    assert intake.vault.decrypt(sid, sealed) == subject()
    assert store.situations[sid].status == "open"
    state, key = store.referrals[(AGENCY, "R-1")]
    assert (state.outcome, state.situation_id, key) == ("accepted", sid, intake.vault.current_id)


async def test_an_urgent_situation_is_also_opened_on_the_urgent_lane(intake: Intake) -> None:
    rec = from_agency(referral("R-urgent", priority="urgent"))
    out = await intake.on_referral(CONN, envelope(rec), rec)
    assert [o.topic for o in out] == [SITUATIONS.name, SITUATIONS_URGENT.name,
                                      REFERRAL_STATUS.name]
    assert out[0].value == out[1].value
    assert [o.urgent for o in out] == [False, True, False]  # the relay publishes the copy first


async def test_the_same_referral_again_gets_the_same_answer_and_opens_nothing(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "R-dup")
    (again,) = await on_referral(intake, from_agency(referral("R-dup")))
    assert isinstance(again, ReferralAccepted)
    assert (again.situation_id, again.duplicate) == (sid, True)
    assert list(store.situations) == [sid]


async def test_other_content_under_a_used_reference_is_a_conflict(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "R-conflict")
    other = referral("R-conflict", priority="urgent")
    (answer,) = await on_referral(intake, from_agency(other))
    assert isinstance(answer, ReferralRejected)
    assert [r.code for r in answer.reasons] == ["duplicate_ref_conflict"]
    assert list(store.situations) == [sid]
    assert store.referrals[(AGENCY, "R-conflict")][0].outcome == "accepted"


async def test_a_referral_received_directly_is_decided_once_with_its_subject_in_clear(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    """The HTTP ingress's path: no signature, no sealing, the same rules; a clear subject is
    accepted even where partners must seal (it never crosses Kafka)."""
    strict = Intake(**{**vars(intake), "require_sealed": True})
    event = referral("R-direct", subject=subject(), sealed_subject=None, priority="urgent")
    decision, out = await strict.submit_direct(CONN, event)
    assert isinstance(decision, Decided)
    assert decision.state.outcome == "accepted"
    situation_id = decision.state.situation_id
    assert situation_id is not None
    assert [o.topic for o in out] == [SITUATIONS.name, SITUATIONS_URGENT.name,
                                      REFERRAL_STATUS.name]
    answer = decoded(out[2]).event
    assert isinstance(answer, ReferralAccepted)
    assert answer.situation_id == situation_id
    sealed = store.vault[situation_id]
    assert strict.vault.decrypt(situation_id, sealed) == subject()
    assert b"Sample" not in b"".join(o.value for o in out)
    again, repeated = await strict.submit_direct(CONN, event)
    assert isinstance(again, Unchanged)
    assert again.code == DUPLICATE
    (first_answer,) = [decoded(o).event for o in repeated]
    assert isinstance(first_answer, ReferralAccepted)
    assert (first_answer.situation_id, first_answer.duplicate) == (situation_id, True)
    assert list(store.situations) == [situation_id]
    rejected, _ = await strict.submit_direct(CONN, referral(
        "R-direct-bad", subject=subject(), sealed_subject=None,
        summary=summary().model_copy(update={"municipality": "hamilton"})))
    assert isinstance(rejected, Decided)
    assert rejected.state.outcome == "rejected"
    assert [r.code for r in rejected.state.reasons] == ["municipality_outside_halton"]


async def test_a_rejected_referral_is_answered_again_and_may_be_corrected(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    weak = SituationSummary(**{**summary().model_dump(), "risk_factors": (
        "housing.eviction_risk",)})
    (first,) = await on_referral(intake, from_agency(referral("R-fix", summary=weak)))
    assert isinstance(first, ReferralRejected)
    assert first.reasons
    assert store.situations == {}
    assert store.referrals[(AGENCY, "R-fix")][0].outcome == "rejected"
    (again,) = await on_referral(intake, from_agency(referral("R-fix", summary=weak)))
    assert isinstance(again, ReferralRejected)
    assert again.reasons == first.reasons
    _, fixed = await on_referral(intake, from_agency(referral("R-fix")))
    assert isinstance(fixed, ReferralAccepted)
    assert store.referrals[(AGENCY, "R-fix")][0].situation_id == fixed.situation_id


async def test_an_unsigned_or_mis_signed_referral_is_refused_and_changes_nothing(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    unsigned = consumed(to_record(referral("R-unsigned"), source=partner_source(AGENCY)))
    (answer,) = await on_referral(intake, unsigned)
    assert isinstance(answer, ReferralRejected)
    assert [r.code for r in answer.reasons] == ["signature_missing"]
    (other,) = await on_referral(intake, from_agency(referral("R-other"),
                                                     development_signing_key(LEAD)))
    assert isinstance(other, ReferralRejected)
    assert [r.code for r in other.reasons] == ["signature_wrong_agency"]
    assert (store.referrals, store.situations) == ({}, {})


async def test_a_batch_decides_distinct_references_together_and_repeats_in_order(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    items = [from_agency(referral("B-1")), from_agency(referral("B-2")),
             from_agency(referral("B-1")), from_agency(withdrawal("B-never")),
             consumed(to_record(referral("B-3"), source=partner_source(AGENCY)))]
    out = await intake.on_referrals(CONN, [(envelope(r), r) for r in items])
    answers = [(e.referral_ref, type(e).__name__, getattr(e, "duplicate", None))
               for e in (decoded(o).event for o in out)
               if isinstance(e, ReferralAccepted | ReferralRejected)]
    # the unsigned one at once; B-2 (once in the batch) with the others of its kind; then B-1
    # twice, in order; the withdrawal of a reference never answered changes nothing
    assert answers == [("B-3", "ReferralRejected", None), ("B-2", "ReferralAccepted", False),
                       ("B-1", "ReferralAccepted", False), ("B-1", "ReferralAccepted", True)]
    assert len(store.situations) == 2
    assert set(store.referrals) == {(AGENCY, "B-1"), (AGENCY, "B-2")}


async def test_a_withdrawal_concludes_the_situation_and_purges_its_identity_once(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "R-wd")
    concluded, purged = await on_referral(intake, from_agency(withdrawal("R-wd")))
    assert isinstance(concluded, SituationConcluded)
    assert (concluded.situation_id, concluded.conclusion) == (sid, "withdrawn")
    assert isinstance(purged, IdentityPurged)
    assert (purged.reason, purged.records_purged) == ("withdrawn", 1)
    assert sid not in store.vault
    assert store.referrals[(AGENCY, "R-wd")][0].fingerprint is None
    assert await on_referral(intake, from_agency(withdrawal("R-wd"))) == []
    assert await on_referral(intake, from_agency(withdrawal("R-never"))) == []


async def test_a_dead_lettered_referral_is_answered_to_the_agency_its_key_names(
        intake: Intake) -> None:
    rec = InRecord(topic=REFERRALS.name, partition=0, offset=0, key=f"{AGENCY}/R-dead".encode(),
                   value=b"{}", headers=())
    error = InvalidBody(ReferralSubmitted.ce_type, (("summary.narrative", "Field required"),))
    (out,) = await intake.on_dead_letter(CONN, rec, error)
    answer = decoded(out).event
    assert isinstance(answer, ReferralRejected)
    assert (answer.agency_id, answer.referral_ref) == (AGENCY, "R-dead")
    assert [(r.code, r.field) for r in answer.reasons] == [("contract_violation",
                                                            "summary.narrative")]
    assert await intake.on_dead_letter(CONN, InRecord(
        topic=SITUATIONS.name, partition=0, offset=0, key=rec.key, value=b"{}"), error) == []


# -- disclosures -----------------------------------------------------------------------------


async def test_a_filter_3_assignment_seals_each_role_its_fields_once(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "D-3")
    rec = from_producer(assigned(sid, LEAD, HELPER))
    packages = await on_situation(intake, rec)
    assert all(isinstance(p, DisclosureSealed) for p in packages)
    lead, helper = cast(list[DisclosureSealed], packages)
    assert (lead.recipient_agency, helper.recipient_agency) == (LEAD, HELPER)
    assert (lead.filter_stage, lead.disclosing_agency) == (3, AGENCY)
    assert set(helper.fields) < set(lead.fields)
    opened = json.loads(sealing.open_sealed(lead.ciphertext,
                                            sealing.development_private_key(LEAD)))
    assert opened["subject"]["address"] == subject().address
    assert store.assignments == {(sid, LEAD): Assignment("lead", "filter_3"),
                                 (sid, HELPER): Assignment("assisting", "filter_3")}
    assert [(d.recipient_agency, d.ciphertext) for d in store.disclosures] == [(LEAD, ""),
                                                                               (HELPER, "")]
    assert await on_situation(intake, rec) == []  # redelivered: nothing sealed twice
    assert len(store.disclosures) == 2


async def test_an_agency_that_may_not_receive_identity_is_neither_recorded_nor_sealed_for(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "D-refused")
    (package,) = await on_situation(intake, from_producer(assigned(sid, "hrps-cmb-d2", HELPER)))
    assert isinstance(package, DisclosureSealed)
    assert package.recipient_agency == HELPER
    assert list(store.assignments) == [(sid, HELPER)]


async def test_an_assignment_from_another_producer_changes_nothing(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "D-forged")
    assert await on_situation(intake, from_producer(assigned(sid), "/commande/gateway")) == []
    assert (store.assignments, store.disclosures) == ({}, [])


async def test_a_filter_4_release_waits_for_the_agency_to_accept(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "D-4")
    assert await on_situation(intake, from_producer(assigned(sid, release="filter_4"))) == []
    assert store.assignments == {(sid, LEAD): Assignment("lead", "filter_4")}

    def response(to_state: str) -> AssignmentResponded:
        return sample(AssignmentResponded, situation_id=sid, agency_id=LEAD,
                      from_state="requested", to_state=to_state)

    assert await on_situation(intake, from_producer(response("in-progress"))) == []
    (package,) = await on_situation(intake, from_producer(response("accepted")))
    assert isinstance(package, DisclosureSealed)
    assert (package.recipient_agency, package.filter_stage) == (LEAD, 4)


async def test_an_assignment_of_a_purged_or_unknown_situation_discloses_nothing(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "D-purged")
    await on_referral(intake, from_agency(withdrawal("D-purged")))
    assert await on_situation(intake, from_producer(assigned(sid))) == []
    assert store.disclosures == []
    unknown = UUID("0194a1b2-0000-7000-8000-0000000000ff")
    assert await on_situation(intake, from_producer(assigned(unknown))) == []
    assert store.assignments == {(sid, LEAD): Assignment("lead", "filter_3")}


# -- retention -------------------------------------------------------------------------------


def conclusion(sid: UUID, code: str) -> SituationConcluded:
    return sample(SituationConcluded, situation_id=sid, conclusion=code, concluded_at=START,
                  concluded_by=CHAIR)


async def test_a_conclusion_that_means_purge_now_destroys_the_identity(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "C-now")
    (purged,) = await on_situation(intake, from_producer(conclusion(sid, "rejected_not_aer")))
    assert isinstance(purged, IdentityPurged)
    assert (purged.situation_id, purged.reason, purged.records_purged) == (
        sid, "rejected_not_aer", 1)
    assert sid not in store.vault
    assert (store.situations[sid].status, store.situations[sid].purge_reason) == (
        "concluded", "rejected_not_aer")
    assert await on_situation(intake, from_producer(conclusion(sid, "rejected_not_aer"))) == []


async def test_another_conclusion_keeps_identity_until_due_and_a_reopening_cancels_that(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "C-later")
    assert await on_situation(intake, from_producer(
        conclusion(sid, "risk_lowered_connected_to_services"))) == []
    assert store.situations[sid].purge_after == START + timedelta(days=90)
    assert sid in store.vault
    forged = sample(SituationReopened, situation_id=sid)
    assert await on_situation(intake, from_producer(forged, "/commande/gateway")) == []
    assert store.situations[sid].status == "concluded"
    await on_situation(intake, from_producer(forged))
    assert (store.situations[sid].status, store.situations[sid].purge_after) == ("open", None)


async def test_the_tables_work_on_a_situation_is_activity(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    sid = await accepted(intake, "C-busy")
    later = START + timedelta(days=150)
    worked = consumed(to_record(sample(AerDecisionRecorded, situation_id=sid),
                                source=CONVENING, time=later))
    assert await on_situation(intake, worked) == []
    assert store.situations[sid].last_activity_at == later


async def test_a_batch_of_facts_is_handled_in_order_with_its_activity_recorded_once(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    first, second = await accepted(intake, "C-batch-1"), await accepted(intake, "C-batch-2")

    def worked(sid: UUID, at: datetime, source: str = CONVENING) -> InRecord:
        return consumed(to_record(sample(AerDecisionRecorded, situation_id=sid),
                                  source=source, time=at))

    batch = [worked(first, START + timedelta(days=2)), worked(second, START + timedelta(days=3)),
             worked(second, START + timedelta(days=9), "/commande/gateway"),  # not convening's
             from_producer(conclusion(first, "rejected_not_aer")),
             worked(second, START + timedelta(days=1))]  # older: activity does not go back
    out = await intake.on_situations(CONN, [(envelope(rec), rec) for rec in batch])
    (purged,) = [decoded(o).event for o in out]
    assert isinstance(purged, IdentityPurged)
    assert purged.situation_id == first
    assert first not in store.vault
    assert store.situations[first].last_activity_at == START + timedelta(days=2)
    assert store.situations[second].last_activity_at == START + timedelta(days=3)


async def fire_timers(store: InMemoryIntakeStore, at: datetime) -> tuple[int, list[OutRecord]]:
    """One look of intake's timer worker at ``at`` (its retention timers, on the fake): how
    many timers emitted, and what."""
    pool = OutboxPool()
    fired = await timer_loop.fire_due(
        pool.as_pool(), "intake", runtime.route(purging.fires(180, lambda conn: store)),
        ManualClock(at), timer_stores=store.timers)
    return fired, pool.published


def timer_state(store: InMemoryIntakeStore, kind: str, sid: UUID) -> tuple[str, datetime]:
    row = store.timers.rows[retention.timer_key(kind, sid)]
    return row.state, row.timer.due_at


async def test_the_retention_timers_purge_what_is_due_with_its_reason(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    due = await accepted(intake, "P-due")
    idle = await accepted(intake, "P-idle")
    assert timer_state(store, retention.INACTIVE_TIMER, idle) == (
        "pending", START + timedelta(days=180))
    await on_situation(intake, from_producer(conclusion(due, "risk_lowered_connected_to_services")))
    assert timer_state(store, retention.RETENTION_TIMER, due) == (
        "pending", START + timedelta(days=90))
    assert await fire_timers(store, START + timedelta(days=90) - timedelta(seconds=1)) == (0, [])
    now = START + timedelta(days=91)
    count, out = await fire_timers(store, now)
    assert count == 1
    (purged,) = (decoded(o).event for o in out)
    assert isinstance(purged, IdentityPurged)
    assert (purged.situation_id, purged.reason, purged.records_purged, purged.district) == (
        due, "retention_expired", 1, "district_1")
    assert timer_state(store, retention.INACTIVE_TIMER, due)[0] == "cancelled"
    assert await fire_timers(store, now) == (0, [])
    assert idle in store.vault
    inactive_at = START + timedelta(days=180)
    count, out = await fire_timers(store, inactive_at)
    assert count == 1
    (inactive,) = (decoded(o).event for o in out)
    assert isinstance(inactive, IdentityPurged)
    assert (inactive.situation_id, inactive.reason, inactive.district) == (
        idle, "inactive", "district_1")
    assert store.vault == {}
    assert await fire_timers(store, inactive_at + timedelta(days=400)) == (0, [])


async def test_activity_puts_the_inactivity_purge_off_and_a_reopening_looks_again(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    busy = await accepted(intake, "P-busy")
    later = START + timedelta(days=150)
    await on_situation(intake, consumed(to_record(
        sample(AerDecisionRecorded, situation_id=busy), source=CONVENING, time=later)))
    assert await fire_timers(store, START + timedelta(days=180)) == (0, [])
    assert timer_state(store, retention.INACTIVE_TIMER, busy) == (
        "pending", later + timedelta(days=180))
    assert busy in store.vault
    late = sample(SituationConcluded, situation_id=busy, concluded_by=CHAIR,
                  conclusion="risk_lowered_connected_to_services", concluded_at=later)
    await on_situation(intake, from_producer(late))
    assert timer_state(store, retention.RETENTION_TIMER, busy) == (
        "pending", later + timedelta(days=90))
    assert await fire_timers(store, later + timedelta(days=89)) == (0, [])
    assert timer_state(store, retention.INACTIVE_TIMER, busy)[0] == "pending"
    await on_situation(intake, from_producer(sample(SituationReopened, situation_id=busy)))
    assert timer_state(store, retention.RETENTION_TIMER, busy)[0] == "cancelled"
    assert await fire_timers(store, later + timedelta(days=179)) == (0, [])
    assert busy in store.vault
    count, out = await fire_timers(store, later + timedelta(days=180))
    assert count == 1
    (inactive,) = (decoded(o).event for o in out)
    assert isinstance(inactive, IdentityPurged)
    assert (inactive.situation_id, inactive.reason) == (busy, "inactive")


async def test_a_concluded_situation_is_never_purged_as_inactive(
        intake: Intake, store: InMemoryIntakeStore) -> None:
    kept = await accepted(intake, "P-kept")
    await on_situation(intake, from_producer(sample(
        SituationConcluded, situation_id=kept, conclusion="risk_lowered_connected_to_services",
        concluded_at=START + timedelta(days=170), concluded_by=CHAIR)))
    assert await fire_timers(store, START + timedelta(days=200)) == (0, [])
    assert timer_state(store, retention.INACTIVE_TIMER, kept)[0] == "cancelled"
    assert kept in store.vault
