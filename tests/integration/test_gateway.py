"""The gateway on the real stack: the embedded Keycloak (no mock of the identity provider),
secured Kafka, PostgreSQL, and convening deciding behind it.

The module runs convening and the gateway in this process on one controlled clock (years ahead,
so the meetings are the module's own), with consumer groups of their own committed at the
topics' ends, and serves the gateway's routes on a free port for httpx and for the CLI run as a
subprocess. People sign in with the realm's synthetic accounts.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from aiokafka import TopicPartition
from starlette.applications import Starlette
from uuid6 import uuid7

from deploy.local import keycloak as embedded
from schemas.envelope import from_record
from schemas.meetings import CommandRejected
from schemas.referrals import SituationSummary
from schemas.situations import SituationOpened
from schemas.topics import DISCLOSURES, EVENT_REQUESTS, MEETINGS, NOTICES, SITUATIONS, TABLE_ACTIONS
from services.convening.main import build as build_convening
from services.convening.settings import ConveningSettings
from services.gateway.main import build as build_gateway
from services.gateway.settings import GatewaySettings
from services.runtime import kafka_client
from services.runtime.clock import ManualClock
from services.runtime.events import emit
from services.runtime.kafka import Producer
from services.runtime.service import Service
from services.runtime.settings import Settings
from tests import oidc
from tests.support.kafka import HARNESS, end_offsets, read_all, wait_for
from tests.support.samples import sample, summary

pytestmark = pytest.mark.integration

TORONTO = ZoneInfo("America/Toronto")
COMMANDE = Path(sys.executable).with_name("commande")
ORIGINATOR = "justice-services"


@dataclass
class Running:
    """The module's convening and gateway, and how to reach them."""

    settings: Settings
    issuer: str
    clock: ManualClock
    url: str
    producer: Producer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _groups_at_end(settings: Settings, groups: dict[str, list[str]]) -> None:
    """Commit each new group at its topics' ends: only what this module publishes is read."""
    for group, topics in groups.items():
        consumer = kafka_client.consumer(settings, HARNESS, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(t, p) for t in topics
                   for p in sorted(consumer.partitions_for_topic(t) or ())]
            consumer.assign(tps)
            await consumer.commit(dict(await consumer.end_offsets(tps)))
        finally:
            await consumer.stop()


def _clock() -> ManualClock:
    """Noon in Halton on a Monday, thousands of years ahead (the module's meetings are its own)."""
    start = datetime.now(UTC) + timedelta(days=random.randint(30_000, 2_500_000))
    local = start.astimezone(TORONTO).date()
    monday = local - timedelta(days=local.weekday())
    return ManualClock(datetime(monday.year, monday.month, monday.day, 12, tzinfo=TORONTO))


@pytest.fixture(scope="module")
async def running(settings: Settings, keycloak: str) -> AsyncIterator[Running]:
    tag = uuid.uuid4().hex[:10]
    groups = {"situations_group": f"convening-test-{tag}", "commands_group": f"convening-commands-test-{tag}"}
    gateway_group = f"gateway-test-{tag}"
    await _groups_at_end(settings, {groups["situations_group"]: [SITUATIONS.name],
                                    groups["commands_group"]: [TABLE_ACTIONS.name],
                                    gateway_group: [SITUATIONS.name, MEETINGS.name, EVENT_REQUESTS.name,
                                                    NOTICES.name, DISCLOSURES.name]})
    clock = _clock()
    base = settings.model_dump()
    convening = build_convening(ConveningSettings(**{**base, **groups, "timer_poll_seconds": 0.2}),
                                clock=clock)
    # Leeway 0: the expiry test's 1-second token is expired as soon as its second is over.
    gateway = build_gateway(GatewaySettings(**{**base, "gateway_group": gateway_group,
                                               "oidc_issuer": keycloak, "oidc_leeway_seconds": 0,
                                               "gateway_answer_seconds": 20}), clock=clock)
    started: list[Service] = []
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=gateway.routes), host="127.0.0.1",
                                           port=port, log_config=None, access_log=False,
                                           lifespan="off"))
    producer = Producer(settings, HARNESS, client_id="test-gateway")
    serving: asyncio.Task[None] | None = None
    try:
        for svc in (convening, gateway):
            await svc.faststream.start()
            started.append(svc)
        await producer.start()
        serving = asyncio.create_task(server.serve())
        await wait_for(_true(lambda: server.started), timeout=10)
        yield Running(settings, keycloak, clock, f"http://127.0.0.1:{port}", producer)
    finally:
        server.should_exit = True
        if serving is not None:
            await serving
        await producer.stop()
        for svc in reversed(started):
            await svc.faststream.stop()


def _true(check: Any) -> Any:
    async def predicate() -> bool:
        return bool(check())
    return predicate


async def _situation(run: Running, municipality: str, district: str) -> tuple[UUID, datetime]:
    """Open a situation as intake would and wait until the gateway knows its meeting."""
    sid = uuid7()
    event = sample(SituationOpened, situation_id=sid, referral_ref=f"GW-{sid.hex[:12]}",
                   originating_agency=ORIGINATOR, district=district, priority="routine",
                   opened_at=run.clock.now(),
                   summary=SituationSummary(**{**summary().model_dump(), "municipality": municipality}))
    await run.producer.send_many([emit(event, source="/commande/intake")])
    chair = await oidc.person(run.issuer, f"d{district[-1]}-chair")

    async def scheduled() -> dict[str, Any] | None:
        answer = await _get(run, f"/v1/situations/{sid}/timeline", chair)
        if answer.status_code != 200 or answer.json()["meeting_id"] is None:
            return None
        tables = (await _get(run, "/v1/tables", chair)).json()["tables"]
        # The timeline (situations) and the tables (meetings) are read from two topics: the
        # meeting's row may arrive a moment after the situation names it.
        return next((m for t in tables for m in t["meetings"]
                     if m["meeting_id"] == answer.json()["meeting_id"]), None)

    meeting = await wait_for(scheduled, timeout=60)
    return sid, datetime.fromisoformat(meeting["starts_at"])


async def _get(run: Running, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=run.url, timeout=30) as http:
        return await http.get(path, headers=headers)


async def _post(run: Running, path: str, token: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=run.url, timeout=60) as http:
        return await http.post(path, json=body, headers=headers)


def _problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["type"] == f"urn:commande:problem:{code}", body
    return body


# -- 401 ----------------------------------------------------------------------------------------

SOME_SITUATION = "01a23371-f867-7229-9d2d-b628fd9c0291"


async def test_no_token_is_401(running: Running) -> None:
    answer = await _post(running, f"/v1/situations/{SOME_SITUATION}/decision", None,
                         {"decision": "confirmed"})
    _problem(answer, 401, "unauthenticated")
    assert answer.headers["www-authenticate"] == 'Bearer realm="commande"'


async def test_an_expired_token_is_401(running: Running) -> None:
    token = await oidc.person(running.issuer, "d1-chair", client_id="commande-short-lived")
    await asyncio.sleep(2.2)  # the realm gives this client 1-second tokens
    answer = await _get(running, "/v1/me", token)
    _problem(answer, 401, "token_expired")


async def test_a_token_of_another_issuer_is_401(running: Running, settings: Settings) -> None:
    """A real token of the same Keycloak's master realm: right keys server, wrong issuer."""
    admin = embedded.paths(settings).admin_password.read_text().strip()
    token = await oidc.token(embedded.base_url(settings) + "/realms/master", {
        "grant_type": "password", "client_id": "admin-cli", "username": embedded.ADMIN,
        "password": admin})
    answer = await _get(running, "/v1/me", token)
    body = _problem(answer, 401, "wrong_issuer")
    assert token not in answer.text
    assert "master" not in body["detail"]


async def test_a_token_for_another_audience_is_401(running: Running) -> None:
    """A real token of our realm, issued to another client (admin-cli): not for the gateway."""
    token = await oidc.person(running.issuer, "d1-chair", client_id="admin-cli")
    answer = await _get(running, "/v1/me", token)
    _problem(answer, 401, "wrong_audience")


async def test_a_tampered_token_is_401(running: Running) -> None:
    token = await oidc.person(running.issuer, "d1-chair")
    head, payload, signature = token.split(".")
    other = "AAAAAA" if signature[-6:] != "AAAAAA" else "BBBBBB"
    forged = ".".join((head, payload, signature[:-6] + other))
    _problem(await _get(running, "/v1/me", forged), 401, "invalid_token")


# -- who you are ----------------------------------------------------------------------------------


async def test_the_gateway_says_who_you_are(running: Running) -> None:
    chair = await oidc.person(running.issuer, "d2-chair")
    me = (await _get(running, "/v1/me", chair)).json()
    assert me["agencies"] == [{"agency_id": "hrps-cmb-d2", "role": "community_engagement_team",
                               "districts": ["district_2"]}]
    system = await oidc.partner_system(running.issuer, "housing-services")
    me = (await _get(running, "/v1/me", system)).json()
    assert me["agencies"][0]["agency_id"] == "housing-services"
    assert me["agencies"][0]["role"] == "system"


async def test_a_sign_in_without_an_agency_may_not_command(running: Running) -> None:
    analyst = await oidc.person(running.issuer, "analyst")
    answer = await _post(running, f"/v1/situations/{SOME_SITUATION}/decision", analyst,
                         {"decision": "confirmed"})
    _problem(answer, 403, "no_agency")


async def test_a_body_never_states_the_actor(running: Running) -> None:
    chair = await oidc.person(running.issuer, "d1-chair")
    answer = await _post(running, f"/v1/situations/{SOME_SITUATION}/decision", chair,
                         {"decision": "confirmed", "actor": {"agency_id": "hrps-cmb-d1",
                                                             "role": "table_chair"}})
    body = _problem(answer, 422, "contract_violation")
    assert body["errors"] == [{"field": "actor", "message": "Extra inputs are not permitted"}]


# -- the table's commands ---------------------------------------------------------------------------


async def test_a_note_that_identifies_someone_is_refused_before_it_is_published(
        running: Running) -> None:
    """The table-actions topic keeps commands a year: a note naming a phone number (disguised
    with en dashes) is refused by the gateway with every reason, and nothing is published."""
    since = await end_offsets(running.settings, TABLE_ACTIONS.name)
    chair = await oidc.person(running.issuer, "d1-chair")
    answer = await _post(running, f"/v1/situations/{SOME_SITUATION}/decision", chair,
                         {"decision": "confirmed", "meeting_id": str(uuid7()),
                          "note": "Call the mother at 905\u2013555\u20130101."})
    body = _problem(answer, 422, "identifying_text")
    assert [(r["code"], r["field"]) for r in body["reasons"]] == [("note_contains_phone", "note")]
    assert "555" not in answer.text
    assert await read_all(running.settings, TABLE_ACTIONS.name, since=since) == []


async def test_a_2_district_chair_on_a_3_district_situation_is_403_and_named(running: Running) -> None:
    sid, starts_at = await _situation(running, "burlington", "district_3")
    running.clock.set(starts_at + timedelta(minutes=5))
    since = await end_offsets(running.settings, MEETINGS.name)
    since_commands = await end_offsets(running.settings, TABLE_ACTIONS.name)
    d2_chair = await oidc.person(running.issuer, "d2-chair")

    answer = await _post(running, f"/v1/situations/{sid}/decision", d2_chair, {"decision": "confirmed"})

    body = _problem(answer, 403, "command_rejected")
    assert body["actor"] == {"agency_id": "hrps-cmb-d2", "role": "table_chair"}
    assert [r["code"] for r in body["reasons"]] == ["not_table_chair"]
    # The refusal is on record, naming that chair, caused by that command.
    records = await read_all(running.settings, MEETINGS.name, since=since)
    command_id = UUID(body["command_id"])
    refusals = [env for env in (from_record(r.headers, r.value, topic=r.topic) for r in records)
                if isinstance(env.event, CommandRejected) and env.event.command_id == command_id]
    assert len(refusals) == 1
    [refusal] = refusals
    assert refusal.source == "/commande/convening"
    assert refusal.causationid == body["command_id"]
    assert isinstance(refusal.event, CommandRejected)
    assert refusal.event.actor is not None
    assert refusal.event.actor.model_dump() == {"agency_id": "hrps-cmb-d2", "role": "table_chair"}
    # The command itself came from the gateway, with that actor stamped.
    commands = await read_all(running.settings, TABLE_ACTIONS.name, since=since_commands)
    [command] = [from_record(r.headers, r.value, topic=r.topic) for r in commands
                 if dict(r.headers).get("ce_id") == body["command_id"].encode()]
    assert command.source == "/commande/gateway"


async def test_accepted_commands_come_back_with_their_facts(running: Running) -> None:
    sid, starts_at = await _situation(running, "burlington", "district_3")
    running.clock.set(starts_at + timedelta(minutes=5))
    chair = await oidc.person(running.issuer, "d3-chair")

    decided = await _post(running, f"/v1/situations/{sid}/decision", chair, {"decision": "confirmed"})
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["outcome"] == "accepted"
    assert body["actor"] == {"agency_id": "hrps-cmb-d3", "role": "table_chair"}
    [fact] = body["events"]
    assert fact["type"] == "ca.halton.commande.situation.aer_decision_recorded.v1"
    assert fact["data"]["decision"] == "confirmed"
    assert fact["data"]["decided_by"] == {"agency_id": "hrps-cmb-d3", "role": "table_chair"}

    # The identity release defaults to the table's (3 District: filter_4, the directory).
    assigned = await _post(running, f"/v1/situations/{sid}/assignment", chair,
                           {"lead": "mental-health-assoc", "assisting": ["housing-services"]})
    assert assigned.status_code == 200, assigned.text
    [fact] = [e for e in assigned.json()["events"]
              if e["type"] == "ca.halton.commande.situation.agencies_assigned.v1"]
    assert fact["data"]["identity_release"] == "filter_4"

    # The lead agency's contact answers for its own agency, as the lead.
    lead = await oidc.person(running.issuer, "mental-health-assoc-contact")
    responded = await _post(running, f"/v1/situations/{sid}/response", lead, {"answer": "accepted"})
    assert responded.status_code == 200, responded.text
    assert responded.json()["actor"] == {"agency_id": "mental-health-assoc", "role": "lead_agency"}
    # The assisting agency's own system answers too, with client credentials.
    system = await oidc.partner_system(running.issuer, "housing-services")
    answered = await _post(running, f"/v1/situations/{sid}/response", system, {"answer": "accepted"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["actor"] == {"agency_id": "housing-services", "role": "assisting_agency"}
    # ...and sees the assignment and the situation's timeline; the 2 District chair does not.
    tasks = (await _get(running, "/v1/assignments", lead)).json()["assignments"]
    assert {"situation_id": str(sid), "agency_id": "mental-health-assoc", "role": "lead",
            "state": "accepted"}.items() <= next(t for t in tasks if t["situation_id"] == str(sid)).items()
    timeline = await _get(running, f"/v1/situations/{sid}/timeline", lead)
    assert [e["event"] for e in timeline.json()["entries"]] == [
        "opened", "scheduled", "aer_decision_recorded", "agencies_assigned", "assignment_responded",
        "assignment_responded"]
    _problem(await _get(running, f"/v1/situations/{sid}/timeline",
                        await oidc.person(running.issuer, "d2-chair")), 403, "not_your_table")
    status = await _get(running, f"/v1/commands/{body['command_id']}", chair)
    assert status.json()["outcome"] == "accepted"


async def test_the_cli_prints_every_reason_and_exits_non_zero(running: Running) -> None:
    sid, starts_at = await _situation(running, "burlington", "district_3")
    running.clock.set(starts_at + timedelta(minutes=5))
    chair = await oidc.person(running.issuer, "d3-chair")
    assert (await _post(running, f"/v1/situations/{sid}/decision", chair,
                        {"decision": "confirmed"})).status_code == 200

    env = {**os.environ, "COMMANDE_ENV": "development", "COMMANDE_GATEWAY_URL": running.url,
           "COMMANDE_TOKEN": chair, "COMMANDE_LOG_FORMAT": "console"}
    proc = await asyncio.create_subprocess_exec(
        str(COMMANDE), "assign", "--situation", str(sid), "--lead", "no-such-agency",
        "--identity-release", "filter_3", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    text = out.decode()

    assert proc.returncode == 1, (text, err.decode())
    lines = text.splitlines()
    assert lines[0].startswith("refused (422): AssignAgencies as hrps-cmb-d3/table_chair (command ")
    assert sorted(lines[1:]) == [
        "  - agency_not_table_member (lead): no-such-agency is not an active member of the "
        "district_3 table",
        "  - identity_release_mismatch (identity_release): the district_3 table releases identity "
        "at filter_4"]


async def test_no_outcome_in_time_is_504_and_the_outcome_is_there_later(running: Running) -> None:
    d2_chair = await oidc.person(running.issuer, "d2-chair")
    unknown = uuid7()
    answer = await _post(running, f"/v1/situations/{unknown}/decision?wait=0.001", d2_chair,
                         {"decision": "confirmed", "meeting_id": str(uuid7())})
    body = _problem(answer, 504, "no_outcome_yet")
    assert body["status_url"] == f"/v1/commands/{body['command_id']}"

    async def settled() -> dict[str, Any] | None:
        later = (await _get(running, body["status_url"], d2_chair)).json()
        return later if later["outcome"] != "pending" else None

    later = await wait_for(settled, timeout=30)
    assert later["outcome"] == "rejected"
    assert [r["code"] for r in later["reasons"]] == ["unknown_situation"]
    assert later["actor"] == {"agency_id": "hrps-cmb-d2", "role": "table_chair"}
    # Only the agency that issued it sees what became of it.
    d1_chair = await oidc.person(running.issuer, "d1-chair")
    _problem(await _get(running, body["status_url"], d1_chair), 403, "not_your_command")
    # wait=0: answered at once, 202 with where to look.
    pending = await _post(running, f"/v1/situations/{unknown}/decision?wait=0", d2_chair,
                          {"decision": "confirmed", "meeting_id": str(uuid7())})
    assert pending.status_code == 202
    assert pending.json()["outcome"] == "pending"
    assert pending.headers["location"] == f"/v1/commands/{pending.json()['command_id']}"


async def test_commande_login_with_the_device_grant(running: Running, tmp_path: Path) -> None:
    """Outside a password sign-in, `commande login` prints an address and a code, waits while the
    person signs in in a browser, and keeps the token for the commands."""
    tokens = tmp_path / "tokens.json"
    env = {**os.environ, "COMMANDE_ENV": "development", "COMMANDE_GATEWAY_URL": running.url,
           "COMMANDE_OIDC_ISSUER": running.issuer, "COMMANDE_TOKEN_FILE": str(tokens)}
    env.pop("COMMANDE_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        str(COMMANDE), "login", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("Open http://127.0.0.1:"), line
    await oidc.approve_device(line.split()[1], "d3-chair")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "/agencies/hrps-cmb-d3/community_engagement_team" in out.decode()
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"

    status = await asyncio.create_subprocess_exec(
        str(COMMANDE), "decide", "--situation", str(uuid7()), "--meeting", str(uuid7()),
        "--decision", "confirmed", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    said, _ = await asyncio.wait_for(status.communicate(), 90)
    assert status.returncode == 1  # signed in as the 3 District chair; convening knows no such situation
    assert "as hrps-cmb-d3/table_chair" in said.decode()
    assert "unknown_situation" in said.decode()
