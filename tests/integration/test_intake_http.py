"""The HTTP ingress on the real stack: every error class as RFC 9457 problem details, a referral
queued over HTTP and answered by the consumer, and its identity sealed on the Kafka topic."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from schemas.referrals import (
    AerAttestation,
    IdentifiedPerson,
    PersonConcerned,
    ReferralSubmitted,
    SituationSummary,
    Subject,
)
from schemas.situations import SituationOpened
from schemas.topics import REFERRALS, REFERRALS_URGENT, SITUATIONS
from services.cli import intake_cmd
from services.cli.intake_cmd import issue_token
from services.intake import main
from services.intake.ingress import new_token, token_hash
from services.intake.settings import IntakeSettings
from services.intake.store import PgIntakeStore
from services.runtime.clock import ManualClock
from services.runtime.http import admin_app, asgi_app
from services.runtime.kafka import InRecord
from services.runtime.service import Service
from services.runtime.settings import Settings
from tests.support.kafka import end_offsets, read_all, wait_for
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
AGENCY = "youth-mental-health"
GIVEN = f"Verbanek{RUN}"
NOW = datetime.now(UTC).replace(microsecond=0)


def body(name: str, **overrides: Any) -> dict[str, Any]:
    event = ReferralSubmitted(
        agency_id=AGENCY, referral_ref=f"H{RUN}-{name}", submitted_at=NOW, priority="urgent",
        summary=SituationSummary(
            situation_type="individual", municipality="oakville",
            persons=(PersonConcerned(age_group="age_12_17", gender="man"),),
            risk_factors=("mental_health.crisis_calls", "housing.eviction_risk"),
            narrative="Youth with repeated crisis contacts; family facing eviction."),
        aer=AerAttestation(significant_interest=True, probable_harm=True, severe_harm=True,
                           multi_disciplinary=True, attested_at=NOW - timedelta(hours=1)),
        subject=Subject(people=(IdentifiedPerson(given_name=GIVEN, family_name="Synthetic",
                                                 phone="+1 905 555 0177"),),
                        languages=("en",), legal_basis="consent"),
    )
    data: dict[str, Any] = json.loads(event.model_dump_json())
    data.update(overrides)
    return data


class Http:
    def __init__(self, svc: Service, client: httpx.AsyncClient, token: str) -> None:
        self.svc = svc
        self.client = client
        self.token = token

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@pytest.fixture(scope="module")
async def http(settings: Settings) -> AsyncIterator[Http]:
    # plain runtime settings, as `commande run` passes them: build completes them
    svc = main.build(settings, clock=ManualClock(NOW + timedelta(minutes=1)))
    await svc.faststream.start()
    token = new_token()
    async with svc.pool.acquire() as conn:
        await PgIntakeStore(conn).add_token(token_hash(token), AGENCY, NOW, NOW + timedelta(days=30))
    transport = httpx.ASGITransport(app=asgi_app([svc]))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield Http(svc, client, token)
    finally:
        await svc.faststream.stop()



async def test_a_referral_over_http_is_decided_in_its_request_once(http: Http) -> None:
    since = await end_offsets(http.svc.settings, SITUATIONS.name)
    resp = await http.client.post("/v1/referrals", json=body("ok"), headers=http.auth())
    assert resp.status_code == 201, resp.text
    url = resp.json()["status_url"]
    assert resp.headers["location"] == url == f"/v1/referrals/{AGENCY}/H{RUN}-ok"
    answer = resp.json()
    assert (answer["status"], answer["district"]) == ("accepted", "district_2")
    situation_id = uuid.UUID(answer["situation_id"])

    status = (await http.client.get(url, headers=http.auth())).json()
    assert (status["status"], status["situation_id"]) == ("accepted", str(situation_id))
    # the same referral again: its first answer; other content under the reference: a conflict
    again = await http.client.post("/v1/referrals", json=body("ok"), headers=http.auth())
    assert (again.status_code, again.json()["situation_id"]) == (200, str(situation_id))
    other = body("ok")
    other["summary"]["narrative"] = "Another situation under a reference already used."
    assert_problem(await http.client.post("/v1/referrals", json=other, headers=http.auth()),
                   409, "duplicate_ref_conflict")

    # one situation opened, published by intake; the subject never crossed Kafka
    key = f"{AGENCY}/H{RUN}-ok".encode()
    for topic in (REFERRALS.name, REFERRALS_URGENT.name):
        assert [r for r in await read_all(http.svc.settings, topic) if r.key == key] == []

    async def opened() -> list[InRecord] | None:
        found = [r for r in await read_all(http.svc.settings, SITUATIONS.name, since=since)
                 if json.loads(r.value).get("situation_id") == str(situation_id)
                 and dict(r.headers)["ce_type"] == SituationOpened.ce_type.encode()]
        return found or None

    (record,) = await wait_for(opened)
    assert dict(record.headers)["ce_source"] == b"/commande/intake"
    assert GIVEN.encode() not in record.value


async def test_the_same_new_referral_posted_twice_at_once_opens_one_situation(http: Http) -> None:
    # both requests read the reference before either saved it: the second waits for the first
    # and answers with its situation, instead of failing on the unique key (a 500 before)
    first, second = await asyncio.gather(*(
        http.client.post("/v1/referrals", json=body("twice"), headers=http.auth())
        for _ in range(2)))
    assert sorted((first.status_code, second.status_code)) == [200, 201], (first.text, second.text)
    assert first.json()["situation_id"] == second.json()["situation_id"]
    async with http.svc.pool.acquire() as conn:
        opened = await conn.fetchval(
            f"SELECT count(*) FROM {http.svc.name}.situations"
            " WHERE agency_id = $1 AND referral_ref = $2",
            AGENCY, f"H{RUN}-twice")
    assert opened == 1


async def test_every_reason_is_a_400(http: Http) -> None:
    data = body("bad")
    data["summary"]["municipality"] = "hamilton"
    data["summary"]["narrative"] = "Call 905-555-0100 about this youth."
    resp = await http.client.post("/v1/referrals", json=data, headers=http.auth())
    problem = assert_problem(resp, 400, "referral_rejected")
    assert {r["code"] for r in problem["reasons"]} == {"municipality_outside_halton",
                                                       "narrative_contains_phone"}
    assert "555" not in resp.text


async def test_no_or_a_wrong_token_is_a_401(http: Http) -> None:
    resp = await http.client.post("/v1/referrals", json=body("x"))
    assert_problem(resp, 401, "unauthenticated")
    assert resp.headers["www-authenticate"].startswith("Bearer")
    resp = await http.client.post("/v1/referrals", json=body("x"), headers=http.auth(new_token()))
    assert_problem(resp, 401, "invalid_token")


async def test_another_agencys_referral_or_status_is_a_403(http: Http) -> None:
    resp = await http.client.post("/v1/referrals", json=body("x", agency_id="housing-services"),
                                  headers=http.auth())
    assert_problem(resp, 403, "wrong_agency")
    resp = await http.client.get("/v1/referrals/housing-services/whatever", headers=http.auth())
    assert_problem(resp, 403, "wrong_agency")


async def test_an_unknown_reference_is_a_404(http: Http) -> None:
    resp = await http.client.get(f"/v1/referrals/{AGENCY}/H{RUN}-never", headers=http.auth())
    assert_problem(resp, 404, "unknown_referral")


async def test_a_body_over_the_limit_is_a_413(http: Http) -> None:
    data = body("big")
    data["padding"] = "x" * IntakeSettings().intake_http_max_bytes
    resp = await http.client.post("/v1/referrals", json=data, headers=http.auth())
    assert_problem(resp, 413, "payload_too_large")


async def test_a_body_that_is_not_json_is_a_415(http: Http) -> None:
    resp = await http.client.post("/v1/referrals", content=b"agency=x",
                                  headers={**http.auth(), "Content-Type": "text/plain"})
    assert_problem(resp, 415, "unsupported_media_type")


async def test_a_contract_violation_is_a_422_naming_every_field(http: Http) -> None:
    data = body("contract", priority="whenever")
    del data["aer"]
    resp = await http.client.post("/v1/referrals", json=data, headers=http.auth())
    problem = assert_problem(resp, 422, "contract_violation")
    assert {e["field"] for e in problem["errors"]} == {"priority", "aer"}
    resp = await http.client.post("/v1/referrals", content=b"{not json",
                                  headers={**http.auth(), "Content-Type": "application/json"})
    assert_problem(resp, 400, "malformed_json")
    deep = await http.client.post("/v1/referrals", content=b"[" * 5000,
                                  headers={**http.auth(), "Content-Type": "application/json"})
    assert_problem(deep, 400, "malformed_json")


async def test_tokens_issue_stores_only_a_hash_and_the_token_works(
        http: Http, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMANDE_DATABASE_URL", settings.database_url.get_secret_value())
    token, expires = await issue_token(AGENCY)
    assert timedelta(days=179) < expires - datetime.now(UTC) <= timedelta(days=180)
    async with http.svc.pool.acquire() as conn:
        stored = await conn.fetch("SELECT token_hash FROM api_tokens WHERE agency_id = $1", AGENCY)
    assert token_hash(token) in {bytes(r["token_hash"]) for r in stored}
    assert all(token.encode() not in bytes(r["token_hash"]) for r in stored)
    resp = await http.client.get(f"/v1/referrals/{AGENCY}/H{RUN}-never", headers=http.auth(token))
    assert resp.status_code == 404


async def test_health_readiness_and_metrics_are_on_the_admin_port_only(http: Http) -> None:
    """The public ingress does not answer /metrics (it would let anyone make the service open
    Kafka admin connections); the admin app does, and the ingress stays where it was."""
    for path in ("/health", "/ready", "/metrics"):
        assert (await http.client.get(path)).status_code == 404
    admin = httpx.ASGITransport(app=admin_app([http.svc]))
    async with httpx.AsyncClient(transport=admin, base_url="http://admin") as client:
        assert (await client.get("/ready")).json() == {"ready": True, "services": {"intake": True}}
        metrics = await client.get("/metrics")
        assert "commande_outbox_backlog" in metrics.text
        assert (await client.post("/v1/referrals", json={})).status_code == 404


async def test_a_token_stops_working_when_it_expires_is_revoked_or_its_agency_leaves(
        http: Http, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    path = f"/v1/referrals/{AGENCY}/H{RUN}-never"
    expired, revoked, departed = new_token(), new_token(), new_token()
    async with http.svc.pool.acquire() as conn:
        tokens = PgIntakeStore(conn)
        await tokens.add_token(token_hash(expired), AGENCY, NOW - timedelta(days=200),
                               NOW - timedelta(seconds=1))
        await tokens.add_token(token_hash(revoked), AGENCY, NOW, NOW + timedelta(days=30))
        # an agency of the directory whose membership ended (inactive since 2019)
        await tokens.add_token(token_hash(departed), "town-oakville-legacy", NOW,
                               NOW + timedelta(days=30))
    assert (await http.client.get(path, headers=http.auth(revoked))).status_code == 404
    for token, words in ((expired, "expired"), (departed, "no longer an active member")):
        problem = assert_problem(await http.client.get(path, headers=http.auth(token)), 401,
                                 "invalid_token")
        assert words in problem["detail"]

    monkeypatch.setenv("COMMANDE_DATABASE_URL", settings.database_url.get_secret_value())
    token_id = token_hash(revoked).hex()[:12]
    def cli(*args: str) -> Result:  # in a thread: the command runs its own event loop
        return CliRunner().invoke(intake_cmd.app, list(args))

    listed = await asyncio.to_thread(cli, "tokens", "list", "--agency", AGENCY)
    assert listed.exit_code == 0, listed.output
    assert f"{token_id}  {AGENCY}" in listed.output
    assert revoked not in listed.output
    done = await asyncio.to_thread(cli, "tokens", "revoke", token_id)
    assert done.exit_code == 0, done.output
    assert assert_problem(await http.client.get(path, headers=http.auth(revoked)), 401,
                          "invalid_token")
    again = await asyncio.to_thread(cli, "tokens", "revoke", token_id)
    assert again.exit_code == 2
