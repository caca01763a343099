"""The main job across the three services as processes: referral -> table -> notices -> conclusion."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from directory import load_directory
from schemas.base import Message
from schemas.disclosures import DisclosureSealed
from schemas.envelope import Envelope
from schemas.meetings import AgendaIssued, ParticipantInvited
from schemas.referrals import ReferralAccepted, ReferralRejected, ReferralSubmitted
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationScheduled,
)
from schemas.topics import DISCLOSURES, MEETINGS, REFERRAL_STATUS, SITUATIONS
from services.cli.submit_cmd import load_referral, submit_and_wait
from services.intake import sealing
from services.intake.provenance import partner_source
from services.intake.signing import development_signing_key
from services.notifier.recipients import for_agenda
from services.runtime.clock import OffsetFileClock
from services.runtime.events import emit_signed
from services.runtime.settings import PROJECT_ROOT, Settings
from services.runtime.wire import Watch
from tests.e2e.helpers import after, command, events_of, mails_mentioning, move_to
from tests.support.kafka import HARNESS, wait_for

if TYPE_CHECKING:
    from tests.e2e.conftest import Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "referrals"
DIRECTORY = load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")
CHAIR = {"district_1": "d1-chair", "district_2": "d2-chair", "district_3": "d3-chair"}
"""The tables' chairs, as the local realm's synthetic people."""


def referral(name: str) -> ReferralSubmitted:
    # 12 hex digits: ten digits in a row would read as a phone number (intake refuses that ref)
    return load_referral(SAMPLES / f"{name}.json", ref=f"E2E-{uuid.uuid4().hex[:12]}", seal=True)


async def submit(settings: Settings, name: str) -> ReferralAccepted | ReferralRejected:
    made = referral(name)
    answer = await submit_and_wait(settings, made, development_signing_key(made.agency_id), 60)
    assert answer is not None, "no answer from intake"
    assert isinstance(answer.event, ReferralAccepted | ReferralRejected)
    return answer.event


async def scheduled(settings: Settings, situation: uuid.UUID) -> SituationScheduled:
    async def find() -> SituationScheduled | None:
        hits = await events_of(settings, SITUATIONS.name, SituationScheduled,
                               lambda e: e.situation_id == situation)
        return hits[0] if hits else None

    return await wait_for(find, timeout=60)


async def test_a_referral_becomes_invitations_to_exactly_its_districts_participants(
        pipeline: Pipeline, settings: Settings) -> None:
    accepted = await submit(settings, "milton-individual")
    assert isinstance(accepted, ReferralAccepted)
    assert accepted.district == "district_1"
    sched = await scheduled(settings, accepted.situation_id)
    move_to(pipeline, sched.meeting_starts_at - timedelta(minutes=30))  # past the agenda lead time

    sid = str(accepted.situation_id)

    async def agendas() -> list[AgendaIssued]:
        return await events_of(settings, MEETINGS.name, AgendaIssued,
                               lambda e: any(str(i.situation_id) == sid for i in e.items))

    issued = await wait_for(agendas, timeout=60)
    # Everyone invited to its meeting: convening's group may first place situations that other
    # tests left on the stack on the same (far-future) meeting, inviting agencies for those.
    invited = await events_of(settings, MEETINGS.name, ParticipantInvited,
                              lambda e: e.meeting_id == sched.meeting_id)
    agencies = {e.agency_id for e in invited}
    members = {o.agency_id for o in DIRECTORY.members("district_1", datetime.now(UTC).date())}
    for_it = {e.agency_id for e in invited  # standing members (no situation named), and those
              if not e.situation_ids or sid in {str(s) for s in e.situation_ids}}  # for it
    # every agency invited for this situation, and the table's standing members, get an agenda
    # listing it; nobody outside the meeting's invitations does
    assert {"hrps-cmb-d1", "housing-services"} | for_it <= {e.agency_id for e in issued}
    assert {e.agency_id for e in issued} <= agencies <= members

    expected = {p.recipient.address for e in issued for p in for_agenda(e, DIRECTORY)}

    async def delivered() -> set[str] | None:
        got = {str(m["X-Envelope-To"]) for m in mails_mentioning(settings, sid)
               if m["X-Commande-Notice-Kind"] in ("invitation", "agenda")}
        return got if got >= expected else None

    got = await wait_for(delivered, timeout=90)
    assert got == expected
    assert not any(a.startswith(("d2-", "d3-")) for a in got)
    for msg in mails_mentioning(settings, sid):
        assert "Avery" not in str(msg["Subject"])
        assert "Synthetic-Example" not in msg.as_string()


async def test_the_full_flow_to_conclusion_and_the_lead_opens_its_disclosure(
        pipeline: Pipeline, settings: Settings, tmp_path: Path) -> None:
    accepted = await submit(settings, "milton-individual")
    assert isinstance(accepted, ReferralAccepted)
    sid = accepted.situation_id
    sched = await scheduled(settings, sid)
    move_to(pipeline, sched.meeting_starts_at + timedelta(minutes=5))
    chair = CHAIR[sched.district]
    s, m = str(sid), str(sched.meeting_id)

    def is_(kind: type[Message]) -> Callable[[Envelope[Message]], bool]:
        return lambda env: isinstance(env.event, kind) and getattr(env.event, "situation_id", None) == sid

    decided = await after(settings, SITUATIONS.name, is_(AerDecisionRecorded), lambda: command(
        "decide", "--situation", s, "--meeting", m, "--decision", "confirmed",
        settings=settings, pipeline=pipeline, person=chair))
    assert decided.decision == "confirmed"  # type: ignore[attr-defined]
    async with Watch(settings, HARNESS, DISCLOSURES.name) as disclosures:
        await after(settings, SITUATIONS.name, is_(AgenciesAssigned), lambda: command(
            "assign", "--situation", s, "--meeting", m, "--lead", "public-health",
            "--assisting", "town-milton", settings=settings, pipeline=pipeline, person=chair))
        sealed = await disclosures.first(lambda env: isinstance(env.event, DisclosureSealed)
                                         and env.event.situation_id == sid
                                         and env.event.recipient_agency == "public-health", 60)
    assert sealed is not None
    package = sealed.event
    assert isinstance(package, DisclosureSealed)
    opened = json.loads(sealing.open_sealed(
        package.ciphertext, sealing.development_private_key("public-health")))
    assert "Avery" in json.dumps(opened)
    with pytest.raises(sealing.WrongKey):
        sealing.open_sealed(package.ciphertext, sealing.development_private_key("town-milton"))

    await after(settings, SITUATIONS.name, is_(AssignmentResponded), lambda: command(
        "respond", "--situation", s, "--answer", "accepted",
        settings=settings, pipeline=pipeline, person="public-health-contact"))
    contact = OffsetFileClock(pipeline.clock_file).now().replace(microsecond=0).isoformat()
    await after(settings, SITUATIONS.name, is_(InterventionRecorded), lambda: command(
        "intervene", "--situation", s, "--outcome", "accepted_services", "--first-contact-at",
        contact, settings=settings, pipeline=pipeline, person="public-health-contact"))
    concluded = await after(settings, SITUATIONS.name, is_(SituationConcluded), lambda: command(
        "conclude", "--situation", s, "--conclusion", "risk_lowered_connected_to_services",
        "--meeting", m, settings=settings, pipeline=pipeline, person=chair))
    assert concluded.conclusion == "risk_lowered_connected_to_services"  # type: ignore[attr-defined]

    async def lead_got_its_package() -> EmailMessage | None:
        return next((m for m in mails_mentioning(settings, s)
                     if m["X-Commande-Notice-Kind"] == "disclosure"
                     and "privacy@publichealth.example.org" in str(m["X-Envelope-To"])), None)

    mail = await wait_for(lead_got_its_package, timeout=60)
    # the lead opens the signed package it was sent, as a partner would
    (attachment,) = list(mail.iter_attachments())
    package_file = tmp_path / str(attachment.get_filename())
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    package_file.write_bytes(payload)
    key_file = tmp_path / "public-health.key"
    key_file.write_text(sealing.private_key_to_b64(sealing.development_private_key("public-health")))
    shown = json.loads(command("intake", "disclosure", "open", "--key", str(key_file),
                               str(package_file), settings=settings, pipeline=pipeline))
    assert shown["subject"] == opened["subject"]


async def test_a_referral_outside_halton_is_rejected_with_every_reason(
        pipeline: Pipeline, settings: Settings) -> None:
    answer = await submit(settings, "toronto-outside-halton")
    assert isinstance(answer, ReferralRejected)
    assert {r.code for r in answer.reasons} == {
        "municipality_outside_halton", "too_few_risk_factors", "aer_attestation_incomplete",
        "narrative_contains_phone", "narrative_contains_subject_name", "subject_not_locatable"}


async def test_two_districts_at_once(pipeline: Pipeline, settings: Settings) -> None:
    answers = await asyncio.gather(submit(settings, "milton-individual"),
                                   submit(settings, "oakville-family-urgent"))
    assert all(isinstance(a, ReferralAccepted) for a in answers)
    districts = [a.district for a in answers]  # type: ignore[union-attr]
    assert districts == ["district_1", "district_2"]
    slots = [await scheduled(settings, a.situation_id) for a in answers]  # type: ignore[union-attr]
    assert [s.district for s in slots] == ["district_1", "district_2"]
    assert slots[1].slot == "ad_hoc"  # urgent: a meeting within 24 hours
    assert slots[1].meeting_starts_at - OffsetFileClock(pipeline.clock_file).now() <= timedelta(hours=24)


async def test_sigterm_in_the_middle_of_traffic_loses_nothing(
        pipeline: Pipeline, settings: Settings) -> None:
    referrals = [referral("milton-individual") for _ in range(60)]
    refs = {r.referral_ref for r in referrals}
    from services.runtime.wire import send

    signed = [emit_signed(r, source=partner_source(r.agency_id),
                          key=development_signing_key(r.agency_id)) for r in referrals]
    async with Watch(settings, HARNESS, REFERRAL_STATUS.name):
        await send(settings, HARNESS, signed[:30])
        assert pipeline.procs["intake"].terminate() == 0
        await send(settings, HARNESS, signed[30:])
        pipeline.restart("intake")

    async def answered() -> list[ReferralAccepted] | None:
        got = await events_of(settings, REFERRAL_STATUS.name, ReferralAccepted,
                              lambda e: e.referral_ref in refs)
        return got if len({e.referral_ref for e in got}) == len(refs) else None

    got = await wait_for(answered, timeout=120)
    by_ref: dict[str, set[str]] = {}
    for e in got:
        by_ref.setdefault(e.referral_ref, set()).add(str(e.situation_id))
    assert set(by_ref) == refs
    assert all(len(ids) == 1 for ids in by_ref.values()), "a referral got two situations"
