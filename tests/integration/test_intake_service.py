"""intake on the real Kafka and PostgreSQL: acceptance, rejections, DLQ answers, de-duplication,
withdrawal, sealed disclosures, retention, provenance (unsigned or mis-signed referrals and
withdrawals, forged assignments, conclusions and reopenings), and a leak scan of everything it
wrote.

Every test uses its own referral refs (a per-run prefix) and asserts only on its own records, so
other services' tests can share the stack. The subject is synthetic and unique to this run.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner, Result

from schemas.base import Actor, Message
from schemas.disclosures import DisclosureSealed
from schemas.envelope import Envelope, Record, from_record, to_record
from schemas.referrals import (
    AerAttestation,
    IdentifiedPerson,
    PersonConcerned,
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
    ReferralWithdrawn,
    SituationSummary,
    Subject,
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
from schemas.topics import DISCLOSURES, DLQ, REFERRAL_STATUS, REFERRALS, SITUATIONS
from services.cli import intake_cmd
from services.intake import main, purging, sealing, timer_loop
from services.intake.event_requests import timers as event_timers
from services.intake.provenance import CONVENING, partner_source
from services.intake.settings import IntakeSettings
from services.intake.signing import development_signing_key, sign_disclosure
from services.intake.vault import Sealed, Vault
from services.runtime import timers as runtime
from services.runtime.clock import ManualClock
from services.runtime.events import out_record
from services.runtime.kafka import InRecord, OutRecord, Producer
from services.runtime.logging import configure_logging
from services.runtime.service import Service
from services.runtime.settings import Settings
from tests.support.fakes.timers import deferred
from tests.support.kafka import HARNESS, read_all, wait_for
from tests.support.samples import sample

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
AGENCY = "mental-health-assoc"
GIVEN = f"Quillonet{RUN[:4]}"
FAMILY = f"Zebrowsky{RUN[4:]}"
PHONE = f"+1 905 555 {int(RUN[:4], 16) % 10000:04d}"
ADDRESS = f"{int(RUN[:4], 16) % 900 + 100} Synthetic Orchard Lane, Milton, ON"
SECRETS = (GIVEN, FAMILY, PHONE, PHONE[-8:], "Synthetic Orchard Lane")
NARRATIVE = "Repeated crisis contacts this month; eviction notice served; no treatment in place."
START = datetime.now(UTC).replace(microsecond=0)
CHAIR = Actor(agency_id="hrps-cmb-d1", role="table_chair")


def ref(name: str) -> str:
    return f"T{RUN}-{name}"


def subject(**overrides: Any) -> Subject:
    fields: dict[str, Any] = {
        "people": (IdentifiedPerson(given_name=GIVEN, family_name=FAMILY, phone=PHONE),),
        "address": ADDRESS, "languages": ("en", "fr-CA"),
        "safety_notes": "Synthetic: a large dog on the premises.", "legal_basis": "phipa_40_1",
    }
    return Subject(**{**fields, **overrides})


def summary(**overrides: Any) -> SituationSummary:
    fields: dict[str, Any] = {
        "situation_type": "individual", "municipality": "milton",
        "persons": (PersonConcerned(age_group="age_25_29", gender="woman"),),
        "risk_factors": ("mental_health.diagnosed_not_treated", "housing.eviction_risk"),
        "narrative": NARRATIVE,
    }
    return SituationSummary(**{**fields, **overrides})


def sealed(block: Subject) -> str:
    """``block`` sealed to intake's development key, as a partner sends it."""
    return sealing.seal_subject(block, sealing.development_private_key("intake").public_key)


def referral(name: str, **overrides: Any) -> ReferralSubmitted:
    """A referral as a partner sends it: the subject sealed (``subject=`` sends one in clear)."""
    fields: dict[str, Any] = {
        "agency_id": AGENCY, "referral_ref": ref(name), "submitted_at": START,
        "priority": "routine", "summary": summary(),
        "aer": AerAttestation(significant_interest=True, probable_harm=True, severe_harm=True,
                              multi_disciplinary=True, attested_at=START - timedelta(hours=1)),
        "sealed_subject": None if overrides.get("subject") else sealed(subject()),
    }
    return ReferralSubmitted(**{**fields, **overrides})


class Harness:
    """The running intake, a producer, the clock and readers for the topics it writes."""

    def __init__(self, svc: Service, producer: Producer, clock: ManualClock,
                 settings: Settings) -> None:
        self.svc = svc
        self.producer = producer
        self.clock = clock
        self.settings = settings

    async def send(self, event: Message, source: str | None = None,
                   signer: SigningKey | None = None, *, signed: bool = True) -> str:
        """Publish ``event`` and return its ``ce_id``. A referral or withdrawal comes from its
        agency (``/partners/<agency_id>``) signed with that agency's test key, unless another
        ``source`` or ``signer`` is given or ``signed`` is false; anything else comes from
        convening unless ``source`` says otherwise."""
        if isinstance(event, ReferralSubmitted | ReferralWithdrawn):
            rec = to_record(event, source=source or partner_source(event.agency_id))
            if signed:
                rec = sign_record(rec, signer or development_signing_key(event.agency_id))
        else:
            rec = to_record(event, source=source or CONVENING)
        return await self.send_record(rec)

    async def send_record(self, rec: Record) -> str:
        await self.producer.send_many([out_record(rec)])
        return dict(rec.headers)["ce_id"].decode()

    async def answers(self, referral_ref: str, count: int = 1) -> list[Message]:
        return [env.event for env in await self.answer_envelopes(referral_ref, count)]

    async def answer_envelopes(self, referral_ref: str, count: int = 1) -> list[Envelope[Message]]:
        key = f"{AGENCY}/{referral_ref}".encode()

        async def found() -> list[Envelope[Message]]:
            recs = [r for r in await read_all(self.settings, REFERRAL_STATUS.name) if r.key == key]
            return [from_record(r.headers, r.value) for r in recs] if len(recs) >= count else []

        result: list[Envelope[Message]] = await wait_for(found)
        return result

    async def situation_events(self, situation_id: UUID, count: int = 1) -> list[Message]:
        """What intake itself published about ``situation_id`` (other services publish too)."""
        return await self._events(SITUATIONS.name, situation_id, count)

    async def disclosures(self, situation_id: UUID, count: int = 1) -> list[DisclosureSealed]:
        found = await self._events(DISCLOSURES.name, situation_id, count)
        assert all(isinstance(e, DisclosureSealed) for e in found)
        return [e for e in found if isinstance(e, DisclosureSealed)]

    async def _events(self, topic: str, situation_id: UUID, count: int) -> list[Message]:
        key = str(situation_id).encode()

        async def found() -> list[Message]:
            recs = [r for r in await read_all(self.settings, topic)
                    if r.key == key and dict(r.headers).get("ce_source") == b"/commande/intake"]
            return [from_record(r.headers, r.value).event for r in recs] if len(recs) >= count else []

        result: list[Message] = await wait_for(found)
        return result

    async def accepted(self, name: str, **overrides: Any) -> ReferralAccepted:
        await self.send(referral(name, **overrides))
        (answer,) = await self.answers(ref(name))
        assert isinstance(answer, ReferralAccepted), answer
        return answer


@pytest.fixture(scope="module")
def log_capture() -> Iterator[io.StringIO]:
    """Every log line rendered as in production (JSON), for the leak scan."""
    configure_logging("DEBUG", "json", service="intake")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logging.getLogger().addHandler(handler)
    yield buffer
    logging.getLogger().removeHandler(handler)


@pytest.fixture(scope="module")
async def intake(settings: Settings, log_capture: io.StringIO) -> AsyncIterator[Harness]:
    clock = ManualClock(START + timedelta(minutes=5))
    own = IntakeSettings(**{**settings.model_dump(), "intake_purge_interval_seconds": 0.2})
    svc = main.build(own, clock=clock)
    producer = Producer(settings, HARNESS, client_id=f"intake-test-{RUN}")
    await svc.faststream.start()
    await producer.start()
    try:
        yield Harness(svc, producer, clock, settings)
    finally:
        await producer.stop()
        await svc.faststream.stop()


async def vault_rows(db: asyncpg.Pool, situation_id: UUID) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM intake.vault WHERE situation_id = $1", situation_id))


# -- acceptance -----------------------------------------------------------------------------


async def test_a_good_referral_is_accepted_and_its_situation_opened_deidentified(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    answer = await intake.accepted("accept")
    assert answer.district == "district_1"
    assert answer.duplicate is False
    (opened,) = await intake.situation_events(answer.situation_id)
    assert isinstance(opened, SituationOpened)
    assert opened.originating_agency == AGENCY
    assert opened.summary.narrative == NARRATIVE
    (row,) = await vault_rows(admin_db, answer.situation_id)
    assert row["key_id"] == "dev-local-insecure"
    assert GIVEN.encode() not in bytes(row["ciphertext"])
    situation = await admin_db.fetchrow("SELECT * FROM intake.situations WHERE situation_id = $1",
                                        answer.situation_id)
    assert situation is not None
    assert situation["status"] == "open"


async def test_a_sealed_subject_is_accepted_and_a_wrongly_sealed_one_rejected(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    intake_key = sealing.development_private_key("intake").public_key
    good = sealing.seal_subject(subject(), intake_key)
    answer = await intake.accepted("sealed", subject=None, sealed_subject=good)
    (row,) = await vault_rows(admin_db, answer.situation_id)
    stored = Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))
    assert Vault.development().decrypt(answer.situation_id, stored) == subject()
    wrong = sealing.seal_subject(subject(), sealing.development_private_key("someone").public_key)
    await intake.send(referral("sealed-wrong", subject=None, sealed_subject=wrong))
    (rejected,) = await intake.answers(ref("sealed-wrong"))
    assert isinstance(rejected, ReferralRejected)
    assert [(r.code, r.field) for r in rejected.reasons] == [("sealed_subject_unreadable",
                                                               "sealed_subject")]


# -- rejections -----------------------------------------------------------------------------


async def test_every_reason_comes_back_at_once(intake: Harness) -> None:
    aer = AerAttestation(significant_interest=True, probable_harm=False, severe_harm=True,
                         multi_disciplinary=True, attested_at=START - timedelta(hours=1))
    bad = referral("many-reasons", aer=aer, summary=summary(
        municipality="hamilton", risk_factors=("housing.eviction_risk",),
        persons=(PersonConcerned(age_group="age_200", gender="woman"),),
        narrative=f"{GIVEN} lives at {ADDRESS}, call {PHONE}, seen 2026-01-02."))
    await intake.send(bad)
    (rejected,) = await intake.answers(ref("many-reasons"))
    assert isinstance(rejected, ReferralRejected)
    assert {(r.code, r.field) for r in rejected.reasons} == {
        ("municipality_outside_halton", "summary.municipality"),
        ("too_few_risk_factors", "summary.risk_factors"),
        ("aer_attestation_incomplete", "aer.probable_harm"),
        ("age_group_unknown", "summary.persons.0.age_group"),
        ("narrative_contains_subject_name", "summary.narrative"),
        ("narrative_contains_street_address", "summary.narrative"),
        ("narrative_contains_phone", "summary.narrative"),
        ("narrative_contains_date", "summary.narrative"),
    }


@pytest.mark.parametrize(("name", "overrides", "expected"), [
    ("not-member", {"agency_id": "town-milton", "summary": summary(municipality="oakville")},
     ("agency_not_member_of_district_table", "agency_id")),
    ("unknown-agency", {"agency_id": "no-such-agency"}, ("agency_unknown", "agency_id")),
    ("not-locatable", {"sealed_subject": sealed(subject(address=None, people=(
        IdentifiedPerson(given_name=GIVEN, family_name=FAMILY),)))},
     ("subject_not_locatable", "subject")),
    ("in-clear", {"subject": subject()}, ("subject_must_be_sealed", "subject")),
    ("one-sector", {"summary": summary(risk_factors=("housing.eviction_risk",))},
     ("too_few_risk_factors", "summary.risk_factors")),
])
async def test_single_rules_end_to_end(intake: Harness, name: str, overrides: dict[str, Any],
                                       expected: tuple[str, str]) -> None:
    event = referral(name, **overrides)
    await intake.send(event)
    key = f"{event.agency_id}/{event.referral_ref}".encode()

    async def found() -> list[InRecord]:
        return [r for r in await read_all(intake.settings, REFERRAL_STATUS.name) if r.key == key]

    (record,) = await wait_for(found)
    rejected = from_record(record.headers, record.value).event
    assert isinstance(rejected, ReferralRejected)
    assert expected in [(r.code, r.field) for r in rejected.reasons]


async def test_an_undecodable_referral_goes_to_the_dlq_and_its_agency_is_answered(
        intake: Harness) -> None:
    good = to_record(referral("broken"), source=partner_source(AGENCY))
    body = json.loads(good.value)
    body["priority"] = "whenever"
    del body["aer"]
    await intake.producer.send_many([
        OutRecord(REFERRALS.name, json.dumps(body).encode(), good.key, tuple(good.headers)),
        OutRecord(REFERRALS.name, b"\xff not json", f"{AGENCY}/{ref('garbled')}".encode(),
                  tuple((k, v) for k, v in good.headers if k != "ce_id")),
    ])
    (answered,) = await intake.answer_envelopes(ref("broken"))
    rejected = answered.event
    assert isinstance(rejected, ReferralRejected)
    assert answered.causationid == dict(good.headers)["ce_id"].decode()
    assert {(r.code, r.field) for r in rejected.reasons} == {("contract_violation", "priority"),
                                                             ("contract_violation", "aer")}
    (envelope,) = await intake.answers(ref("garbled"))
    assert isinstance(envelope, ReferralRejected)
    assert [r.code for r in envelope.reasons] == ["invalid_envelope"]
    assert "ce_id" in envelope.reasons[0].message
    keys = {good.key, f"{AGENCY}/{ref('garbled')}".encode()}

    async def dead() -> list[InRecord]:
        recs = [r for r in await read_all(intake.settings, DLQ.name) if r.key in keys]
        return recs if len(recs) == 2 else []

    assert {dict(r.headers)["orig_topic"] for r in await wait_for(dead)} == {REFERRALS.name.encode()}


# -- de-duplication ------------------------------------------------------------------------


async def test_the_same_referral_twice_gets_the_same_answer_and_one_situation(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    first = await intake.accepted("dup")
    await intake.send(referral("dup", submitted_at=START + timedelta(seconds=30)))
    _, again = await intake.answers(ref("dup"), count=2)
    assert isinstance(again, ReferralAccepted)
    assert again.situation_id == first.situation_id
    assert again.duplicate is True
    count = await admin_db.fetchval(
        "SELECT count(*) FROM intake.situations WHERE agency_id = $1 AND referral_ref = $2",
        AGENCY, ref("dup"))
    assert count == 1


async def test_other_content_under_the_same_ref_is_a_conflict(intake: Harness) -> None:
    await intake.accepted("conflict")
    await intake.send(referral("conflict", priority="urgent"))
    _, answer = await intake.answers(ref("conflict"), count=2)
    assert isinstance(answer, ReferralRejected)
    assert [(r.code, r.field) for r in answer.reasons] == [("duplicate_ref_conflict",
                                                             "referral_ref")]


# -- withdrawal ----------------------------------------------------------------------------


async def test_a_withdrawal_concludes_the_situation_and_purges_its_identity(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    answer = await intake.accepted("withdraw")
    await intake.send(ReferralWithdrawn(agency_id=AGENCY, referral_ref=ref("withdraw"),
                                        withdrawn_at=START, reason="resolved_elsewhere"))
    _, concluded, purged = await intake.situation_events(answer.situation_id, count=3)
    assert isinstance(concluded, SituationConcluded)
    assert concluded.conclusion == "withdrawn"
    assert concluded.concluded_by is None
    assert isinstance(purged, IdentityPurged)
    assert (purged.reason, purged.records_purged) == ("withdrawn", 1)
    assert await vault_rows(admin_db, answer.situation_id) == []
    fp = await admin_db.fetchval("SELECT fingerprint FROM intake.referrals WHERE referral_ref = $1",
                                 ref("withdraw"))
    assert fp is None


# -- disclosures ---------------------------------------------------------------------------


async def test_assignment_seals_minimum_fields_per_role_for_each_agency(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    answer = await intake.accepted("disclose")
    sid = answer.situation_id
    await intake.send(AgenciesAssigned(
        situation_id=sid, meeting_id=uuid_v7(), lead=AgencyTask(agency_id="housing-services"),
        assisting=(AgencyTask(agency_id="public-health"),), identity_release="filter_3",
        assigned_at=START, assigned_by=CHAIR), source="/commande/convening")
    packages = await intake.disclosures(sid, count=2)
    by_recipient = {p.recipient_agency: p for p in packages}
    lead, helper = by_recipient["housing-services"], by_recipient["public-health"]
    assert lead.filter_stage == 3
    assert lead.legal_basis == "phipa_40_1"
    assert lead.disclosing_agency == AGENCY
    assert "subject.people.phone" in lead.fields
    assert "subject.people.phone" not in helper.fields
    lead_key = sealing.development_private_key("housing-services")
    assert lead.recipient_key_id == sealing.key_id(lead_key.public_key)
    opened = json.loads(sealing.open_sealed(lead.ciphertext, lead_key))
    assert opened["subject"]["people"] == [{"given_name": GIVEN, "family_name": FAMILY,
                                            "phone": PHONE}]
    assert opened["subject"]["address"] == ADDRESS
    helper_open = json.loads(sealing.open_sealed(
        helper.ciphertext, sealing.development_private_key("public-health")))
    assert set(helper_open["subject"]) == {"people", "languages"}
    with pytest.raises(sealing.WrongKey, match="not sealed for this key"):
        sealing.open_sealed(lead.ciphertext, sealing.development_private_key("public-health"))
    audit = await admin_db.fetch("SELECT recipient_agency, fields FROM intake.disclosures "
                                 "WHERE situation_id = $1", sid)
    assert {r["recipient_agency"] for r in audit} == {"housing-services", "public-health"}
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await admin_db.execute("DELETE FROM intake.disclosures WHERE situation_id = $1", sid)


async def test_disclosure_open_takes_intakes_package_and_refuses_a_forged_one(
        intake: Harness, tmp_path: Path) -> None:
    answer = await intake.accepted("open")
    sid = answer.situation_id
    await intake.send(AgenciesAssigned(
        situation_id=sid, meeting_id=uuid_v7(), lead=AgencyTask(agency_id="housing-services"),
        identity_release="filter_3", assigned_at=START, assigned_by=CHAIR))
    (package,) = await intake.disclosures(sid)
    key_file = tmp_path / "housing-services.key"
    key_file.write_text(sealing.private_key_to_b64(sealing.development_private_key(
        "housing-services")))

    def open_package(text: str) -> Result:
        path = tmp_path / "package.json"
        path.write_text(text)
        return CliRunner().invoke(intake_cmd.app, ["disclosure", "open", "--key", str(key_file),
                                                   str(path)])

    opened = open_package(package.model_dump_json())
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.stdout)["subject"]["address"] == ADDRESS
    # the same box re-addressed, or re-signed by someone else, is refused unopened
    for forged in (package.model_copy(update={"recipient_agency": "public-health"}),
                   sign_disclosure(package, SigningKey.generate())):
        refused = open_package(forged.model_dump_json())
        assert refused.exit_code == 2
        assert "not signed by intake's key" in refused.output
        assert ADDRESS not in refused.output


async def test_filter_4_release_waits_for_the_agency_to_accept(intake: Harness) -> None:
    answer = await intake.accepted("filter4")
    sid = answer.situation_id
    meeting = uuid_v7()
    await intake.send(AgenciesAssigned(
        situation_id=sid, meeting_id=meeting, lead=AgencyTask(agency_id="housing-services"),
        identity_release="filter_4", assigned_at=START, assigned_by=CHAIR),
        source="/commande/convening")
    await intake.send(AssignmentResponded(
        situation_id=sid, agency_id="housing-services", from_state="requested",
        to_state="accepted", responded_at=START,
        responded_by=Actor(agency_id="housing-services", role="lead_agency")),
        source="/commande/convening")
    (package,) = await intake.disclosures(sid)
    assert package.filter_stage == 4


# -- retention -----------------------------------------------------------------------------


async def test_rejected_at_the_table_is_purged_at_once(intake: Harness,
                                                       admin_db: asyncpg.Pool) -> None:
    answer = await intake.accepted("not-aer")
    await intake.send(SituationConcluded(situation_id=answer.situation_id,
                                         conclusion="rejected_not_aer", concluded_at=START,
                                         concluded_by=CHAIR), source="/commande/convening")
    _, purged = await intake.situation_events(answer.situation_id, count=2)
    assert isinstance(purged, IdentityPurged)
    assert purged.reason == "rejected_not_aer"
    assert await vault_rows(admin_db, answer.situation_id) == []


async def test_a_concluded_situation_is_purged_after_the_retention_period(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    answer = await intake.accepted("retention")
    sid = answer.situation_id
    await intake.send(SituationConcluded(situation_id=sid,
                                         conclusion="risk_lowered_connected_to_services",
                                         concluded_at=intake.clock.now(), concluded_by=CHAIR),
                      source="/commande/convening")

    async def due_set() -> bool:
        return bool(await admin_db.fetchval(
            "SELECT purge_after IS NOT NULL FROM intake.situations WHERE situation_id = $1", sid))

    await wait_for(due_set)
    assert len(await vault_rows(admin_db, sid)) == 1
    intake.clock.advance(timedelta(days=91))
    _, purged = await intake.situation_events(sid, count=2)
    assert isinstance(purged, IdentityPurged)
    assert (purged.reason, purged.records_purged) == ("retention_expired", 1)
    assert await vault_rows(admin_db, sid) == []


# -- provenance ----------------------------------------------------------------------------


async def test_unsigned_or_mis_signed_referrals_are_rejected_with_their_reason_and_change_nothing(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    tampered = sign_record(to_record(referral("sig-tampered"), source=partner_source(AGENCY)),
                           development_signing_key(AGENCY))
    tampered = replace(tampered, value=tampered.value.replace(b'"routine"', b'"urgent"'))
    sent = {
        "sig-unsigned": (await intake.send(referral("sig-unsigned"), signed=False),
                         "signature_missing"),
        "sig-other-agency": (await intake.send(referral("sig-other-agency"),
                                               signer=development_signing_key("public-health")),
                             "signature_wrong_agency"),
        "sig-stranger": (await intake.send(referral("sig-stranger"), signer=SigningKey.generate()),
                         "signature_invalid"),
        "sig-as-intake": (await intake.send(referral("sig-as-intake"), source="/commande/intake"),
                          "signature_wrong_agency"),
        "sig-tampered": (await intake.send_record(tampered), "signature_invalid"),
    }
    for name, (ce_id, code) in sent.items():
        (answer,) = await intake.answer_envelopes(ref(name))
        assert isinstance(answer.event, ReferralRejected), name
        assert [(r.code, r.field) for r in answer.event.reasons] == [(code, None)], name
        assert (answer.source, answer.causationid) == ("/commande/intake", ce_id)
    refs = [ref(name) for name in sent]
    assert await admin_db.fetchval(
        "SELECT count(*) FROM intake.referrals WHERE referral_ref = ANY($1)", refs) == 0
    assert await admin_db.fetchval(
        "SELECT count(*) FROM intake.situations WHERE referral_ref = ANY($1)", refs) == 0
    signed = await intake.send(referral("sig-unsigned"))
    _, accepted = await intake.answer_envelopes(ref("sig-unsigned"), count=2)
    assert isinstance(accepted.event, ReferralAccepted)
    assert accepted.causationid == signed


async def test_a_withdrawal_not_signed_by_its_agency_leaves_the_situation_and_vault_alone(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    answer = await intake.accepted("wd-forged")
    before = await vault_rows(admin_db, answer.situation_id)
    withdrawal = ReferralWithdrawn(agency_id=AGENCY, referral_ref=ref("wd-forged"),
                                   withdrawn_at=START, reason="resolved_elsewhere")
    await intake.send(withdrawal, signed=False)
    await intake.send(withdrawal, signer=development_signing_key("housing-services"))
    _, unsigned, other = await intake.answers(ref("wd-forged"), count=3)
    assert isinstance(unsigned, ReferralRejected)
    assert isinstance(other, ReferralRejected)
    assert [r.code for r in unsigned.reasons] == ["signature_missing"]
    assert [r.code for r in other.reasons] == ["signature_wrong_agency"]
    assert await vault_rows(admin_db, answer.situation_id) == before
    assert await admin_db.fetchval("SELECT status FROM intake.situations WHERE situation_id = $1",
                                   answer.situation_id) == "open"


async def test_a_forged_assignment_seals_nothing_and_leaves_the_vault_untouched(
        intake: Harness, admin_db: asyncpg.Pool, log_capture: io.StringIO) -> None:
    answer = await intake.accepted("forged-assign")
    sid = answer.situation_id
    before = await vault_rows(admin_db, sid)
    assert len(before) == 1

    def assignment(lead: str, *assisting: str) -> AgenciesAssigned:
        return AgenciesAssigned(
            situation_id=sid, meeting_id=uuid_v7(), lead=AgencyTask(agency_id=lead),
            assisting=tuple(AgencyTask(agency_id=a) for a in assisting),
            identity_release="filter_3", assigned_at=START, assigned_by=CHAIR)

    # a valid envelope from convening's source naming agencies that do not sit at 1 District's
    # table (another district's CMB; a former member), then a member named by another producer
    await intake.send(assignment("hrps-cmb-d2", "town-oakville-legacy"), source=CONVENING)
    await intake.send(assignment("housing-services"), source="/commande/gateway")
    # then convening's real assignment (same key, so handled after the two forged ones)
    await intake.send(assignment("public-health"), source=CONVENING)
    (package,) = await intake.disclosures(sid)
    assert package.recipient_agency == "public-health"
    assigned = await admin_db.fetch(
        "SELECT agency_id FROM intake.assignments WHERE situation_id = $1", sid)
    assert [r["agency_id"] for r in assigned] == ["public-health"]
    audit = await admin_db.fetch(
        "SELECT recipient_agency FROM intake.disclosures WHERE situation_id = $1", sid)
    assert [r["recipient_agency"] for r in audit] == ["public-health"]
    assert await vault_rows(admin_db, sid) == before
    logs = log_capture.getvalue()
    assert "disclosure refused: recipient may not receive identity" in logs
    assert "situation fact from an unexpected producer ignored" in logs


async def test_conclusions_and_reopenings_from_another_producer_change_nothing(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    answer = await intake.accepted("forged-conclude")
    sid = answer.situation_id
    before = await vault_rows(admin_db, sid)
    # a forged "not AER" would purge at once; the real conclusion keeps identity until due; a
    # forged reopening would cancel that date and keep identity for ever
    await intake.send(SituationConcluded(situation_id=sid, conclusion="rejected_not_aer",
                                         concluded_at=START, concluded_by=CHAIR),
                      source="/partners/housing-services")
    # concluded now (the module's clock may have moved past START + the retention period)
    await intake.send(SituationConcluded(situation_id=sid,
                                         conclusion="risk_lowered_connected_to_services",
                                         concluded_at=intake.clock.now(), concluded_by=CHAIR),
                      source=CONVENING)
    forged = await intake.send(SituationReopened(situation_id=sid, reopened_at=START,
                                                 reopened_by=CHAIR, reason="new_information"),
                               source="/commande/gateway")

    async def handled() -> bool:  # the consumer took the last record (and ignored it)
        return bool(await admin_db.fetchval(
            "SELECT count(*) FROM intake.inbox WHERE consumer = 'intake-situations' "
            "AND event_id = $1", forged))

    await wait_for(handled)
    row = await admin_db.fetchrow("SELECT status, conclusion, purge_after, purged_at "
                                  "FROM intake.situations WHERE situation_id = $1", sid)
    assert row is not None
    assert (row["status"], row["conclusion"]) == ("concluded", "risk_lowered_connected_to_services")
    assert row["purge_after"] is not None
    assert row["purged_at"] is None
    assert await vault_rows(admin_db, sid) == before


async def test_an_open_situation_inactive_for_too_long_loses_its_identity(
        intake: Harness, admin_db: asyncpg.Pool) -> None:
    """Identity does not outlive its purpose: an open situation nobody worked on for the
    maximum retention is purged (``inactive``, with its district so its chair is told); one the
    table worked on recently keeps it."""
    idle = (await intake.accepted("idle")).situation_id
    busy = (await intake.accepted("busy")).situation_id
    later = intake.clock.now() + timedelta(days=150)
    worked = to_record(sample(AerDecisionRecorded, situation_id=busy), source=CONVENING,
                       time=later)  # the table decided it 150 days on
    event_id = await intake.send_record(worked)

    async def touched() -> bool:
        return bool(await admin_db.fetchval(
            "SELECT count(*) FROM intake.inbox WHERE event_id = $1", event_id))

    await wait_for(touched)
    fire = runtime.route({**purging.fires(180),  # the schema's other timers stay as they are
                          **{kind: deferred for kind in event_timers.KINDS}})
    await timer_loop.fire_due(intake.svc.pool, "intake", fire,
                              ManualClock(intake.clock.now() + timedelta(days=181)))
    rows = {r["situation_id"]: (r["purged_at"] is not None, r["purge_reason"])
            for r in await admin_db.fetch("SELECT situation_id, purged_at, purge_reason FROM "
                                          "intake.situations WHERE situation_id = ANY($1)",
                                          [idle, busy])}
    assert rows == {idle: (True, "inactive"), busy: (False, None)}
    assert await vault_rows(admin_db, idle) == []
    [purged] = [e for e in await intake.situation_events(idle, count=2)
                if isinstance(e, IdentityPurged)]
    assert (purged.reason, purged.district) == ("inactive", "district_1")


# -- the leak scan (last: it reads what every test above wrote) -------------------------------


async def test_zz_nothing_identified_left_intake_outside_the_restricted_topics(
        intake: Harness, log_capture: io.StringIO, admin_db: asyncpg.Pool) -> None:
    for table in ("referrals", "situations", "assignments", "disclosures", "outbox", "inbox"):
        rows = await admin_db.fetch(f"SELECT t::text AS row FROM intake.{table} t")
        for row in rows:
            for secret in SECRETS:
                assert secret not in row["row"], table
    for topic in (REFERRAL_STATUS.name, SITUATIONS.name):
        for rec in await read_all(intake.settings, topic):
            blob = rec.value + (rec.key or b"") + b"".join(v for _, v in rec.headers)
            for secret in SECRETS:
                assert secret.encode() not in blob, (topic, rec.offset)
    logs = log_capture.getvalue()
    assert "referral accepted" in logs
    assert "disclosure sealed" in logs
    for secret in SECRETS:
        assert secret not in logs


def uuid_v7() -> UUID:
    from uuid6 import uuid7

    return uuid7()
