"""Municipality names as partners write them, through intake on the real Kafka and PostgreSQL.

A partner publishes signed referrals whose ``summary.municipality`` is written as people write
it (``Acton``, ``Georgetown``, `` burlington ``, ``Halton Hills``): each is accepted into its
district, and the ``SituationOpened`` intake publishes carries the municipality *code*, so
convening's routing is unchanged. ``Hamilton`` is a Filter 1 rejection
(``municipality_outside_halton``) and an unknown name another (``municipality_unknown``), never a
contract violation in the dead-letter topic. Every test uses its own references (a per-run
prefix) and reads only its own records, so other tests can share the stack.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from schemas.base import Message
from schemas.envelope import from_record, to_record
from schemas.referrals import (
    AerAttestation,
    IdentifiedPerson,
    PersonConcerned,
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
    ReferralSummary,
    Subject,
)
from schemas.signing import sign_record
from schemas.situations import SituationOpened
from schemas.topics import DLQ, REFERRAL_STATUS, SITUATIONS
from services.intake import main, sealing
from services.intake.ingress import new_token, token_hash
from services.intake.provenance import partner_source
from services.intake.settings import IntakeSettings
from services.intake.signing import development_signing_key
from services.intake.store import PgIntakeStore
from services.runtime.clock import ManualClock
from services.runtime.events import out_record
from services.runtime.http import asgi_app
from services.runtime.kafka import Producer
from services.runtime.settings import Settings
from tests.support.kafka import HARNESS, end_offsets, read_all, wait_for

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
AGENCY = "mental-health-assoc"  # a member of all three district tables
START = datetime.now(UTC).replace(microsecond=0)
SUBJECT = Subject(
    people=(IdentifiedPerson(given_name="Synthetic", family_name=f"Person{RUN}",
                             phone="+1 905 555 0100"),),
    address="1 Example Street, Halton, ON", legal_basis="phipa_40_1")


def referral(name: str, municipality: str) -> ReferralSubmitted:
    """A referral with the municipality as written, its subject sealed to intake's key."""
    summary = ReferralSummary(
        situation_type="individual", municipality=municipality,
        persons=(PersonConcerned(age_group="age_25_29", gender="woman"),),
        risk_factors=("mental_health.diagnosed_not_treated", "housing.eviction_risk"),
        narrative="Repeated crisis contacts this month; eviction notice served.")
    return ReferralSubmitted(
        agency_id=AGENCY, referral_ref=f"M{RUN}-{name}", submitted_at=START, priority="routine",
        summary=summary,
        aer=AerAttestation(significant_interest=True, probable_harm=True, severe_harm=True,
                           multi_disciplinary=True, attested_at=START - timedelta(hours=1)),
        sealed_subject=sealing.seal_subject(
            SUBJECT, sealing.development_private_key("intake").public_key))


class Partner:
    """Publishes signed referrals as the agency would and reads intake's answers back."""

    def __init__(self, settings: Settings, producer: Producer, dlq_start: dict[int, int],
                 http: httpx.AsyncClient, token: str) -> None:
        self.settings = settings
        self.producer = producer
        self.dlq_start = dlq_start
        self.http = http
        self.token = token

    async def post(self, event: ReferralSubmitted, *, municipality: str | None = None
                   ) -> httpx.Response:
        """Submit ``event`` over the HTTP ingress with the agency's token (subject in clear:
        the ingress seals it; ``municipality`` written into the JSON instead, when given)."""
        body = json.loads(event.model_dump_json())
        body.update(sealed_subject=None, subject=json.loads(SUBJECT.model_dump_json()))
        if municipality is not None:
            body["summary"]["municipality"] = municipality
        return await self.http.post("/v1/referrals", json=body,
                                    headers={"Authorization": f"Bearer {self.token}"})

    async def refer(self, event: ReferralSubmitted, *, municipality: str | None = None) -> Message:
        """Publish ``event`` signed by its agency (with ``municipality`` written into its JSON
        instead, when given: a value the model would refuse) and return intake's answer."""
        rec = to_record(event, source=partner_source(AGENCY))
        if municipality is not None:
            body = json.loads(rec.value)
            body["summary"]["municipality"] = municipality
            rec = dataclasses.replace(rec, value=json.dumps(body).encode())
        rec = sign_record(rec, development_signing_key(AGENCY))
        await self.producer.send_many([out_record(rec)])
        key = event.key().encode()

        async def answered() -> list[Message]:
            return [from_record(r.headers, r.value).event
                    for r in await read_all(self.settings, REFERRAL_STATUS.name) if r.key == key]

        answers: list[Message] = await wait_for(answered)
        (answer,) = answers
        return answer

    async def opened(self, accepted: ReferralAccepted) -> SituationOpened:
        key = str(accepted.situation_id).encode()

        async def found() -> list[Message]:
            return [from_record(r.headers, r.value).event
                    for r in await read_all(self.settings, SITUATIONS.name)
                    if r.key == key and dict(r.headers).get("ce_source") == b"/commande/intake"]

        events: list[Message] = await wait_for(found)
        (opened,) = events
        assert isinstance(opened, SituationOpened)
        return opened

    async def dead_letters(self) -> list[bytes]:
        """Keys of this run's records that reached the dead-letter topic since the start."""
        return [r.key for r in await read_all(self.settings, DLQ.name, since=self.dlq_start)
                if r.key is not None and f"/M{RUN}-".encode() in r.key]


@pytest.fixture(scope="module")
async def partner(settings: Settings) -> AsyncIterator[Partner]:
    own = IntakeSettings(**settings.model_dump())
    svc = main.build(own, clock=ManualClock(START + timedelta(minutes=5)))
    producer = Producer(settings, HARNESS, client_id=f"municipality-test-{RUN}")
    dlq_start = await end_offsets(settings, DLQ.name)
    await svc.faststream.start()
    await producer.start()
    token = new_token()
    async with svc.pool.acquire() as conn:
        await PgIntakeStore(conn).add_token(token_hash(token), AGENCY, START, START + timedelta(days=30))
    transport = httpx.ASGITransport(app=asgi_app([svc]))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield Partner(settings, producer, dlq_start, http, token)
    finally:
        await producer.stop()
        await svc.faststream.stop()


@pytest.mark.parametrize(("written", "code", "district"), [
    ("Acton", "acton", "district_1"),
    ("Georgetown", "georgetown", "district_1"),
    (" burlington ", "burlington", "district_3"),
    ("Halton Hills", "halton_hills", "district_1"),
    ("Glen-Williams, ON", "halton_hills", "district_1"),
])
async def test_a_name_as_written_is_accepted_into_its_district_and_leaves_as_its_code(
        partner: Partner, written: str, code: str, district: str) -> None:
    event = referral(code + "-" + uuid.uuid4().hex[:4], written)
    answer = await partner.refer(event)
    assert isinstance(answer, ReferralAccepted), answer
    assert answer.district == district
    opened = await partner.opened(answer)
    assert opened.district == district
    assert opened.summary.municipality == code  # what convening routes by
    assert opened.summary.narrative == event.summary.narrative


async def test_hamilton_is_outside_halton_a_filter_1_rejection(partner: Partner) -> None:
    answer = await partner.refer(referral("hamilton", "Hamilton"))
    assert isinstance(answer, ReferralRejected), answer
    assert [(r.code, r.field) for r in answer.reasons] == [
        ("municipality_outside_halton", "summary.municipality")]
    assert answer.reasons[0].message.startswith("Hamilton (City of Hamilton) is outside Halton")


async def test_an_unknown_name_is_a_filter_1_rejection_naming_the_accepted_ones(
        partner: Partner) -> None:
    answer = await partner.refer(referral("unknown", "Springfeld"))
    assert isinstance(answer, ReferralRejected), answer
    (reason,) = answer.reasons
    assert (reason.code, reason.field) == ("municipality_unknown", "summary.municipality")
    assert all(name in reason.message for name in ("Acton", "Georgetown", "Halton Hills",
                                                   "Burlington", "Milton", "Oakville"))
    assert "Springfeld" not in reason.message


async def test_over_http_a_name_is_accepted_and_hamilton_refused_by_filter_1(
        partner: Partner) -> None:
    accepted = await partner.post(referral("http-georgetown", "  georgetown"))
    assert accepted.status_code == 201, accepted.text
    assert (accepted.json()["status"], accepted.json()["district"]) == ("accepted", "district_1")
    status = (await partner.http.get(accepted.json()["status_url"], headers={
        "Authorization": f"Bearer {partner.token}"})).json()
    assert (status["status"], status["district"]) == ("accepted", "district_1")
    refused = await partner.post(referral("http-hamilton", "Hamilton"))
    assert refused.status_code == 400, refused.text
    assert [(r["code"], r["field"]) for r in refused.json()["reasons"]] == [
        ("municipality_outside_halton", "summary.municipality")]
    broken = await partner.post(referral("http-control", "Acton"), municipality="Acton\u0007")
    assert broken.status_code == 422, broken.text
    assert broken.json()["errors"] == [{
        "field": "summary.municipality",
        "message": "Value error, write the municipality's name as text of 1 to 100 characters, "
                   "without control characters"}]


async def test_only_a_name_the_contract_refuses_goes_to_the_dead_letter_topic(
        partner: Partner) -> None:
    """Names are Filter 1's to judge; only text that is not a name (over 100 characters, or
    with control characters) is a contract violation, explained without a regular expression."""
    accepted = await partner.refer(referral("not-dead", "  MILTON  "))
    assert isinstance(accepted, ReferralAccepted), accepted
    broken = referral("too-long", "Milton")
    answer = await partner.refer(broken, municipality="Milton " * 20)
    assert isinstance(answer, ReferralRejected), answer
    (reason,) = answer.reasons
    assert (reason.code, reason.field) == ("contract_violation", "summary.municipality")
    assert "1 to 100 characters" in reason.message
    assert "^" not in reason.message
    dead = await wait_for(partner.dead_letters)
    assert dead == [broken.key().encode()]  # this run's names (above and the other tests): none
