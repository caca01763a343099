"""``POST /v1/event-requests`` on the real stack: 202 and the queued submission (from the public:
waiting for the requester's confirmation), 422 for the contract and for the rules (still
recorded), 429 with Retry-After per client address, 413 over the size limit, an agency token
setting agency_id; and ``commande event-request submit`` posting to the real endpoint.

The client buckets are in PostgreSQL and outlive the run: each run asks from its own addresses
(IPv6 documentation prefix, tagged with the run)."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from schemas.envelope import from_record
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestConfirmationRequested,
    EventRequestRejected,
    EventRequestSubmitted,
)
from schemas.reference.calendar import ZONE
from schemas.topics import EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS
from services.cli import event_request_cmd
from services.intake import main
from services.intake.ingress import new_token, token_hash
from services.intake.settings import IntakeSettings
from services.intake.store import PgIntakeStore
from services.runtime.clock import ManualClock
from services.runtime.http import asgi_app
from services.runtime.service import Service
from services.runtime.settings import PROJECT_ROOT, Settings
from tests.support.kafka import end_offsets, read_all, wait_for
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
NOW = datetime.now(UTC).replace(microsecond=0)
AGENCY = "community-living"  # a member of the directory: tokens are issued to members only
SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "event-requests"


def body(days_ahead: int = 45, **overrides: Any) -> dict[str, Any]:
    day = (NOW.astimezone(ZONE) + timedelta(days=days_ahead)).date().isoformat()
    data: dict[str, Any] = {
        "kind": "speaker",
        "windows": [{"date": day, "start": "18:30", "end": "20:00"}],
        "location": {"municipality": "Oakville", "address_or_venue": "Example Library"},
        "topics": ["fraud_scams"], "expected_attendees": 25,
        "requester": {"name": f"Requester {RUN}", "mailing_address": "1 Example St, Oakville",
                      "daytime_phone": "905-555-0102", "email": f"web-{RUN}@example.org"},
    }
    data.update(overrides)
    return data


class Http:
    def __init__(self, svc: Service, token: str, since: dict[int, int]) -> None:
        self.svc = svc
        self.token = token
        self.since = since
        self.app = asgi_app([svc])

    def client(self, address: str) -> httpx.AsyncClient:
        """A client asking from ``address`` (``198.51.100.1`` becomes this run's own
        ``2001:db8:<run>::c633:6401``: the buckets of earlier runs are still in the database)."""
        tail = "".join(f"{int(b):02x}" for b in address.split("."))
        own = f"2001:db8:{RUN[:4]}:{RUN[4:]}::{tail[:4]}:{tail[4:]}"
        transport = httpx.ASGITransport(app=self.app, client=(own, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://intake")

    async def submission(self, request_id: str) -> EventRequestSubmitted:
        key = request_id.encode()

        async def found() -> list[Any]:
            return [r for r in await read_all(self.svc.settings,
                                              EVENT_REQUEST_SUBMISSIONS.name,
                                              since=self.since) if r.key == key]

        (rec,) = await wait_for(found)
        event = from_record(rec.headers, rec.value).event
        assert isinstance(event, EventRequestSubmitted)
        return event

    async def fact(self, request_id: str) -> Any:
        key = request_id.encode()

        async def found() -> list[Any]:
            return [r for r in await read_all(self.svc.settings,
                                              EVENT_REQUESTS.name) if r.key == key]

        (rec,) = await wait_for(found)
        return from_record(rec.headers, rec.value).event


@pytest.fixture(scope="module")
async def http(settings: Settings) -> AsyncIterator[Http]:
    own = IntakeSettings(**{**settings.model_dump(), "intake_event_rate_burst": 3,
                            "intake_event_rate_per_minute": 1.0,
                            "intake_event_http_max_bytes": 4096,
                            # one address for the whole module: not the limit under test here
                            "intake_event_confirmations_per_day": 1000})
    since = await end_offsets(settings, EVENT_REQUEST_SUBMISSIONS.name)
    svc = main.build(own, clock=ManualClock(NOW))
    await svc.faststream.start()
    token = new_token()
    async with svc.pool.acquire() as conn:
        await PgIntakeStore(conn).add_token(token_hash(token), AGENCY, NOW, NOW + timedelta(days=30))
    try:
        yield Http(svc, token, since)
    finally:
        await svc.faststream.stop()



async def test_a_public_request_is_queued_with_a_minted_id_and_waits_for_confirmation(
        http: Http) -> None:
    async with http.client("198.51.100.1") as client:
        resp = await client.post("/v1/event-requests", json=body(
            request_id=str(uuid.uuid4()), submitted_at="2020-01-01T00:00:00Z"))
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert answer["status"] == "awaiting_confirmation"
    assert answer["district"] == "district_2"
    assert "confirm your e-mail address" in answer["answer"]
    assert answer["confirm_by"] == (NOW + timedelta(hours=48)).isoformat()
    request_id = answer["request_id"]
    assert UUID(request_id).version == 7
    sent = await http.submission(request_id)
    assert sent.submitted_at == NOW  # the receipt time, never the body's
    assert sent.agency_id is None
    asked = await http.fact(request_id)  # the only fact until the requester confirms
    assert isinstance(asked, EventRequestConfirmationRequested)
    assert asked.district == "district_2"
    assert asked.expires_at == NOW + timedelta(hours=48)


async def test_an_agency_token_sets_agency_id(http: Http) -> None:
    async with http.client("198.51.100.2") as client:
        resp = await client.post("/v1/event-requests", json=body(),
                                 headers={"Authorization": f"Bearer {http.token}"})
        assert resp.status_code == 202, resp.text
        assert resp.json()["status"] == "received"
        sent = await http.submission(resp.json()["request_id"])
        assert sent.agency_id == AGENCY
        ack = await http.fact(resp.json()["request_id"])  # an organization is answered at once
        assert isinstance(ack, EventRequestAcknowledged)
        assert ack.organization_request is True
        foreign = await client.post("/v1/event-requests", json=body(agency_id="someone-else"),
                                    headers={"Authorization": f"Bearer {http.token}"})
        assert_problem(foreign, 403, "wrong_agency")
        claimed = await client.post("/v1/event-requests", json=body(agency_id=AGENCY))
        assert_problem(claimed, 401, "unauthenticated")


async def test_a_body_off_the_contract_is_a_422_with_every_field_and_nothing_queued(
        http: Http) -> None:
    async with http.client("198.51.100.3") as client:
        resp = await client.post("/v1/event-requests", json=body(
            kind="barbecue", expected_attendees="lots", windows=[{"date": "soon"}]))
        problem = assert_problem(resp, 422, "contract_violation")
        fields = {e["field"] for e in problem["errors"]}
        assert {"kind", "expected_attendees", "windows.0.date", "windows.0.start"} <= fields
        assert "request_id" not in problem
        assert "barbecue" not in resp.text
        not_object = await client.post("/v1/event-requests", content=b"[1, 2]",
                                       headers={"content-type": "application/json"})
        assert_problem(not_object, 422, "contract_violation")
        text = await client.post("/v1/event-requests", content=b"hello",
                                 headers={"content-type": "text/plain"})
        assert_problem(text, 415, "unsupported_media_type")
    async with http.client("198.51.100.13") as client:  # its own rate-limit bucket
        deep = await client.post("/v1/event-requests", content=b"[" * 3000,
                                 headers={"content-type": "application/json"})
        assert_problem(deep, 400, "malformed_json")


async def test_a_rule_rejection_is_a_422_with_reasons_and_still_recorded(http: Http) -> None:
    short = body(days_ahead=29, location={"municipality": "Hamilton", "address_or_venue": "Hall"})
    async with http.client("198.51.100.4") as client:
        resp = await client.post("/v1/event-requests", json=short,
                                 headers={"Authorization": f"Bearer {http.token}"})
        public = await client.post("/v1/event-requests", json=short)
    problem = assert_problem(resp, 422, "event_request_rejected")
    assert [(r["code"], r["field"]) for r in problem["reasons"]] == [
        ("notice_too_short", "windows.0.date"),
        ("municipality_outside_halton", "location.municipality")]
    earliest = (NOW.astimezone(ZONE) + timedelta(days=30)).date()
    assert problem["earliest_acceptable_date"] == earliest.isoformat()
    rejected = await http.fact(problem["request_id"])
    assert isinstance(rejected, EventRequestRejected)
    assert rejected.earliest_acceptable_date == earliest
    assert [r.code for r in rejected.reasons] == ["notice_too_short",
                                                 "municipality_outside_halton"]
    # From the public, the same answer at once; the rejection is recorded, and e-mailed only
    # once the requester confirms the address (until then: the confirmation request only).
    told = assert_problem(public, 422, "event_request_rejected")
    assert told["reasons"] == problem["reasons"]
    assert "once confirmed" in told["detail"]
    asked = await http.fact(told["request_id"])
    assert isinstance(asked, EventRequestConfirmationRequested)
    assert asked.district is None


async def test_a_client_over_its_bucket_gets_429_with_retry_after(http: Http) -> None:
    async with http.client("203.0.113.9") as client:
        codes = [(await client.post("/v1/event-requests", json=body())).status_code
                 for _ in range(4)]
        assert codes == [202, 202, 202, 429]
        resp = await client.post("/v1/event-requests", json=body())
        assert_problem(resp, 429, "too_many_requests")
        assert 58 <= int(resp.headers["retry-after"]) <= 60  # PostgreSQL's clock: real time
    async with http.client("203.0.113.10") as other:
        assert (await other.post("/v1/event-requests", json=body())).status_code == 202


async def test_an_oversized_body_is_a_413(http: Http) -> None:
    async with http.client("198.51.100.5") as client:
        big = body(topics_other="x" * 200, requester={"name": "n" * 100})
        padded = json.dumps(big) + " " * 5000
        resp = await client.post("/v1/event-requests", content=padded.encode(),
                                 headers={"content-type": "application/json"})
        assert_problem(resp, 413, "payload_too_large")

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000

        streamed = await client.post("/v1/event-requests", content=chunks(),
                                     headers={"content-type": "application/json"})
        assert_problem(streamed, 413, "payload_too_large")


async def test_the_cli_posts_to_intake_and_prints_its_answer(http: Http) -> None:
    """``commande event-request submit`` against intake's real HTTP endpoint (uvicorn on a free
    port): the request id intake minted, or every reason and the earliest date."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(http.app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await wait_for(lambda: asyncio.sleep(0, server.started))
        runner = CliRunner()
        ok = await asyncio.to_thread(runner.invoke, event_request_cmd.app, [
            "submit", str(SAMPLES / "milton-seniors-talk.json"), "--url", url])
        assert ok.exit_code == 0, ok.output
        request_id = ok.stdout.split("(request ")[1].split(")")[0]
        assert "district_1" in ok.stdout
        sent = await http.submission(request_id)
        assert sent.requester is not None
        refused = await asyncio.to_thread(runner.invoke, event_request_cmd.app, [
            "submit", str(SAMPLES / "halton-hills-short-notice.json"), "--url", url])
        assert refused.exit_code == 1, refused.output
        assert "rejected (request " in refused.stdout  # (the service logs here too)
        assert "notice_too_short" in refused.stdout
        assert "earliest acceptable date: " in refused.stdout
        gone = await asyncio.to_thread(runner.invoke, event_request_cmd.app, [
            "submit", str(SAMPLES / "milton-seniors-talk.json"), "--url", "http://127.0.0.1:9",
            "--timeout", "2"])
        assert gone.exit_code == 2
        assert "intake did not answer at http://127.0.0.1:9" in gone.output
    finally:
        server.should_exit = True
        await serving
