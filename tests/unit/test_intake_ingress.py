"""intake's HTTP ingress (``POST /v1/referrals``, ``GET /v1/referrals/{agency}/{ref}``) on the
in-memory store: every answer the routes give, in milliseconds, without PostgreSQL or Kafka
(``tests/integration/test_intake_http.py`` shows the same routes on the stack). What the
routes write to the outbox is kept by the fake pool and decoded here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from starlette.applications import Starlette

from directory import DirectoryHolder
from schemas.base import Message
from schemas.envelope import from_record
from schemas.reference import reference
from schemas.referrals import ReferralAccepted, ReferralRejected, ReferralSubmitted
from schemas.situations import SituationOpened
from schemas.topics import REFERRAL_STATUS, REFERRALS, REFERRALS_URGENT, SITUATIONS
from services.intake import ingress, sealing
from services.intake.handlers import Intake
from services.intake.rules import RuleConfig
from services.intake.settings import DEFAULT_DISCLOSURE_FIELDS, IntakeSettings
from services.intake.signing import development_signing_key
from services.intake.vault import Vault
from services.runtime.clock import ManualClock
from services.runtime.settings import PROJECT_ROOT
from tests.support.fakes.intake import InMemoryIntakeStore
from tests.support.fakes.pool import OutboxPool, started
from tests.support.problems import assert_problem
from tests.support.samples import NOW, sample, subject, summary

pytestmark = pytest.mark.unit

AGENCY = "mental-health-assoc"
START = NOW + timedelta(minutes=5)
MAX_BYTES = IntakeSettings().intake_http_max_bytes


@dataclass
class Ingress:
    client: httpx.AsyncClient
    store: InMemoryIntakeStore
    outbox: OutboxPool
    clock: ManualClock
    token: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def published(self, topic: str) -> list[Message]:
        """The messages the routes put in the outbox for ``topic``, decoded."""
        return [from_record(r.headers, r.value, topic=r.topic).event
                for r in self.outbox.published if r.topic == topic]


@pytest.fixture(scope="module")
def directory() -> DirectoryHolder:
    return DirectoryHolder(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")


@pytest.fixture
async def http(directory: DirectoryHolder) -> AsyncIterator[Ingress]:
    store, pool, clock = InMemoryIntakeStore(), OutboxPool(), ManualClock(START)
    intake = Intake(clock=clock, vault=Vault.development(),
                    intake_key=sealing.development_private_key("intake"),
                    signing_key=development_signing_key("intake"), directory=directory,
                    reference=reference(), config=RuleConfig(), require_sealed=True,
                    disclosure_fields=dict(DEFAULT_DISCLOSURE_FIELDS), retention_days=90,
                    stores=lambda conn: store)
    token = ingress.new_token()
    await store.add_token(ingress.token_hash(token), AGENCY, NOW, NOW + timedelta(days=30))
    app = Starlette(routes=ingress.routes(started("intake", pool), intake, MAX_BYTES))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://intake") as client:
        yield Ingress(client, store, pool, clock, token)


def body(ref: str, **overrides: Any) -> dict[str, Any]:
    """A referral as a partner posts it: its subject in clear (TLS protects it in transit)."""
    event = sample(ReferralSubmitted, agency_id=AGENCY, referral_ref=ref, submitted_at=NOW,
                   summary=summary(), subject=subject(), sealed_subject=None)
    data: dict[str, Any] = json.loads(event.model_dump_json())
    data.update(overrides)
    return data



async def test_an_accepted_referral_opens_its_situation_in_the_request(http: Ingress) -> None:
    resp = await http.client.post("/v1/referrals", json=body("R-1"), headers=http.auth())
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert resp.headers["location"] == answer["status_url"] == f"/v1/referrals/{AGENCY}/R-1"
    assert (answer["status"], answer["district"]) == ("accepted", "district_1")
    situation_id = UUID(answer["situation_id"])

    # the subject went to the vault, the facts to the outbox, nothing to the referrals topics
    assert situation_id in http.store.vault
    [opened] = http.published(SITUATIONS.name)
    assert isinstance(opened, SituationOpened)
    assert (opened.situation_id, opened.summary.municipality) == (situation_id, "milton")
    [accepted] = http.published(REFERRAL_STATUS.name)
    assert isinstance(accepted, ReferralAccepted)
    assert accepted.situation_id == situation_id
    assert http.published(REFERRALS.name) == http.published(REFERRALS_URGENT.name) == []
    assert all(b"Sample" not in r.value for r in http.outbox.published)

    status = (await http.client.get(answer["status_url"], headers=http.auth())).json()
    assert (status["status"], status["situation_id"]) == ("accepted", str(situation_id))
    assert status["answered_at"] == START.isoformat()


async def test_the_same_referral_again_is_its_first_answer_and_other_content_a_409(
        http: Ingress) -> None:
    first = await http.client.post("/v1/referrals", json=body("R-2"), headers=http.auth())
    http.clock.advance(timedelta(minutes=3))
    again = await http.client.post("/v1/referrals", json=body("R-2"), headers=http.auth())
    assert (again.status_code, again.json()["situation_id"]) == (200, first.json()["situation_id"])
    assert again.json()["answered_at"] == START.isoformat()

    other = body("R-2")
    other["summary"]["narrative"] = "Another situation under a reference already used."
    problem = assert_problem(
        await http.client.post("/v1/referrals", json=other, headers=http.auth()),
        409, "duplicate_ref_conflict")
    assert "new referral_ref" in problem["detail"]
    assert len(http.store.situations) == 1


async def test_a_refusal_is_a_400_with_every_reason_and_reads_back_as_rejected(
        http: Ingress) -> None:
    data = body("R-3")
    data["summary"]["municipality"] = "hamilton"
    data["summary"]["narrative"] = "Call 905-555-0100 about this youth."
    resp = await http.client.post("/v1/referrals", json=data, headers=http.auth())
    problem = assert_problem(resp, 400, "referral_rejected")
    codes = {"municipality_outside_halton", "narrative_contains_phone"}
    assert {r["code"] for r in problem["reasons"]} == codes
    assert "555" not in resp.text
    [rejected] = http.published(REFERRAL_STATUS.name)
    assert isinstance(rejected, ReferralRejected)
    assert http.store.situations == {}

    status = (await http.client.get(f"/v1/referrals/{AGENCY}/R-3", headers=http.auth())).json()
    assert status["status"] == "rejected"
    assert {r["code"] for r in status["reasons"]} == codes


async def test_without_a_live_token_of_an_active_agency_it_is_a_401(http: Ingress) -> None:
    path = f"/v1/referrals/{AGENCY}/R-never"
    resp = await http.client.post("/v1/referrals", json=body("R-4"))
    assert_problem(resp, 401, "unauthenticated")
    assert resp.headers["www-authenticate"].startswith("Bearer")
    for header in ("Basic abc", "Bearer short"):
        assert_problem(await http.client.get(path, headers={"Authorization": header}), 401,
                       "unauthenticated")

    unknown, expired, revoked, departed = (ingress.new_token() for _ in range(4))
    await http.store.add_token(ingress.token_hash(expired), AGENCY, NOW - timedelta(days=200),
                               START - timedelta(seconds=1))
    await http.store.add_token(ingress.token_hash(revoked), AGENCY, NOW, NOW + timedelta(days=30))
    await http.store.revoke_token(ingress.token_hash(revoked).hex()[:12], NOW)
    # an agency of the directory whose membership ended (inactive since 2019)
    await http.store.add_token(ingress.token_hash(departed), "town-oakville-legacy", NOW,
                               NOW + timedelta(days=30))
    for token, words in ((unknown, "unknown, expired or revoked"),
                         (expired, "unknown, expired or revoked"),
                         (revoked, "unknown, expired or revoked"),
                         (departed, "no longer an active member")):
        problem = assert_problem(await http.client.get(path, headers=http.auth(token)), 401,
                                 "invalid_token")
        assert words in problem["detail"]
    assert http.outbox.published == []


async def test_another_agencys_referral_or_answer_is_a_403(http: Ingress) -> None:
    resp = await http.client.post("/v1/referrals", json=body("R-5", agency_id="housing-services"),
                                  headers=http.auth())
    assert_problem(resp, 403, "wrong_agency")
    resp = await http.client.get("/v1/referrals/housing-services/R-5", headers=http.auth())
    assert_problem(resp, 403, "wrong_agency")
    assert http.outbox.published == []


async def test_an_unknown_reference_is_a_404(http: Ingress) -> None:
    resp = await http.client.get(f"/v1/referrals/{AGENCY}/R-never", headers=http.auth())
    assert_problem(resp, 404, "unknown_referral")


async def test_what_is_not_a_referral_is_refused_before_anything_is_decided(
        http: Ingress) -> None:
    big = body("R-6")
    big["padding"] = "x" * MAX_BYTES
    assert_problem(await http.client.post("/v1/referrals", json=big, headers=http.auth()),
                   413, "payload_too_large")
    assert_problem(await http.client.post(
        "/v1/referrals", content=b"agency=x",
        headers={**http.auth(), "Content-Type": "text/plain"}), 415, "unsupported_media_type")
    broken = body("R-6", priority="whenever")
    del broken["aer"]
    problem = assert_problem(
        await http.client.post("/v1/referrals", json=broken, headers=http.auth()),
        422, "contract_violation")
    assert {e["field"] for e in problem["errors"]} == {"priority", "aer"}
    assert_problem(await http.client.post(
        "/v1/referrals", content=b"{not json",
        headers={**http.auth(), "Content-Type": "application/json"}), 400, "malformed_json")
    assert (http.store.referrals, http.outbox.published) == ({}, [])


async def test_a_body_without_submitted_at_gets_the_time_it_was_received(http: Ingress) -> None:
    data = body("R-7")
    del data["submitted_at"]
    resp = await http.client.post("/v1/referrals", json=data, headers=http.auth())
    assert resp.status_code == 201, resp.text

