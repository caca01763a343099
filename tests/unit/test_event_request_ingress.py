"""intake's event-request routes on the in-memory fakes: ``POST /v1/event-requests`` and the pages
of the confirmation link (``GET`` shows, ``POST`` confirms), every answer they give, in
milliseconds, without PostgreSQL or Kafka (``tests/integration/test_event_request_confirmation.py``
shows them on the stack, with notifier's e-mails).

The requests' store, intake's agency tokens and the shared limits are fakes (the limits with a
clock of their own, as PostgreSQL's ``now()`` is in the service); what the routes write to the
outbox is kept by the fake pool and decoded here. A submission the route queued reaches the
requests' store only through the consumer, which the tests run on the queued record as the
runtime would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any, cast
from uuid import UUID

import httpx
import pytest
from starlette.applications import Starlette
from uuid6 import uuid7

from directory import DirectoryHolder, reference_codes
from schemas.base import Message
from schemas.envelope import from_record
from schemas.event_requests import (
    CONFIRMATION_PATH,
    CONFIRMATION_PURPOSE,
    EventRequestAcknowledged,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestRejected,
    EventRequestSubmitted,
)
from schemas.reference import reference
from schemas.reference.calendar import ZONE
from schemas.topics import EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS
from services.intake import ingress as intake_ingress
from services.intake.event_requests import confirm, ingress
from services.intake.event_requests.decide import EventConfig, EventRequestState, decide_purge
from services.intake.event_requests.handlers import EventRequests
from services.intake.event_requests.rate_limit import LimitConfig
from services.intake.event_requests.rules import EventRuleConfig
from services.intake.handlers import SOURCE
from services.intake.settings import IntakeSettings
from services.intake.vault import Vault
from services.runtime import events, links
from services.runtime.clock import ManualClock
from services.runtime.db import Connection
from services.runtime.kafka import InRecord
from services.runtime.settings import PROJECT_ROOT
from tests.support import problems
from tests.support.fakes.event_limits import InMemoryEventLimits
from tests.support.fakes.event_requests import InMemoryEventRequestStore
from tests.support.fakes.intake import InMemoryIntakeStore
from tests.support.fakes.pool import OutboxPool, started

pytestmark = pytest.mark.unit

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # Monday 10:00 in Toronto
LIMITS_START = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
"""The limits' own clock (PostgreSQL's in the service): not the business clock."""
ORG = "community-living"
CLIENT = "198.51.100.7"
PATH = ingress.PATH
MAX_BYTES = IntakeSettings().intake_event_http_max_bytes
SECRET = b"synthetic-confirm-secret-for-unit-tests"
LIMITS = LimitConfig(burst=3, per_minute=2, confirmations_per_day=2)  # a token every 30 s
REF = reference()
DIRECTORY = DirectoryHolder(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml",
                            reference_codes(REF))
CONFIG = EventConfig(holidays=REF.holiday_dates)
CONN = cast(Connection, object())
"""The connection the runtime would pass the consumer: the fake's factory never looks at it."""
WRITTEN = ("Quinn Sample", "Sample Walkers", "Example Hall", "12 Sample Street, Milton, ON",
           "905 555 0166", "Bike rodeo")
"""Everything a requester writes (none of it may be echoed in a problem or a page)."""


def body(email: str = "quinn@example.org", days_ahead: int = 45,
         **overrides: Any) -> dict[str, Any]:
    day = (START.astimezone(ZONE) + timedelta(days=days_ahead)).date().isoformat()
    name, org, venue, mailing, phone, topics = WRITTEN
    data: dict[str, Any] = {
        "kind": "speaker", "windows": [{"date": day, "start": "18:30", "end": "20:00"}],
        "location": {"municipality": "Milton", "address_or_venue": venue},
        "topics": ["fraud_scams"], "topics_other": topics, "expected_attendees": 25,
        "requester": {"name": name, "organization": org, "mailing_address": mailing,
                      "daytime_phone": phone, "email": email},
    }
    data.update(overrides)
    return data


@dataclass
class Http:
    app: Starlette
    handlers: EventRequests
    store: InMemoryEventRequestStore
    tokens: InMemoryIntakeStore
    limits: InMemoryEventLimits
    outbox: OutboxPool
    clock: ManualClock
    token: str
    addresses: Iterator[int] = field(default_factory=lambda: count(1))

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def post(self, json: Any = None, *, at: str | None = None,
                   headers: dict[str, str] | None = None,
                   content: bytes | None = None) -> httpx.Response:
        """``POST /v1/event-requests`` from the client address ``at`` (unless given, one of
        its own: only the tests of the bucket send several from one)."""
        at = at or f"2001:db8::{next(self.addresses):x}"
        transport = httpx.ASGITransport(app=self.app, client=(at, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            return await client.post(PATH, json=json, content=content, headers=headers)

    async def page(self, method: str, token: str) -> httpx.Response:
        """The confirmation link's page (``GET`` or ``POST``)."""
        transport = httpx.ASGITransport(app=self.app, client=(CLIENT, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            return await client.request(method, f"{CONFIRMATION_PATH}{token}")

    def published(self, topic: str) -> list[Message]:
        """What the routes put in the outbox for ``topic``, decoded."""
        return [from_record(r.headers, r.value, topic=r.topic).event
                for r in self.outbox.published if r.topic == topic]

    def queued(self) -> list[EventRequestSubmitted]:
        """The submissions queued, each from intake (the only producer its consumer takes)."""
        found = []
        for r in self.outbox.published:
            if r.topic == EVENT_REQUEST_SUBMISSIONS.name:
                env = from_record(r.headers, r.value, topic=r.topic)
                assert env.source == SOURCE
                assert r.key == str(env.event.key()).encode()
                assert isinstance(env.event, EventRequestSubmitted)
                found.append(env.event)
        return found

    async def consume(self, request_id: str) -> list[Message]:
        """Hand the queued submission ``request_id`` to the consumer as the runtime would; what
        it emits (which the runtime's outbox would take), decoded."""
        (rec,) = [r for r in self.outbox.published if r.topic == EVENT_REQUEST_SUBMISSIONS.name
                  and r.key == request_id.encode()]
        inbound = InRecord(topic=rec.topic, partition=0, offset=0, key=rec.key, value=rec.value,
                           headers=rec.headers)
        out = await self.handlers.on_record(CONN, events.decode(inbound), inbound)
        return [from_record(r.headers, r.value, topic=r.topic).event for r in out]

    def state(self, request_id: str) -> EventRequestState:
        return self.store.requests[UUID(request_id)]


@pytest.fixture
async def http() -> Http:
    store, tokens, pool = InMemoryEventRequestStore(), InMemoryIntakeStore(), OutboxPool()
    clock = ManualClock(START)
    limits = InMemoryEventLimits(LIMITS, clock=ManualClock(LIMITS_START))
    handlers = EventRequests(clock=clock, vault=Vault.development(), directory=DIRECTORY,
                             reference=REF, rule_config=EventRuleConfig(), config=CONFIG,
                             stores=store.bound)
    token = intake_ingress.new_token()
    await tokens.add_token(intake_ingress.token_hash(token), ORG, START - timedelta(days=1),
                           START + timedelta(days=30))
    svc = started("intake", pool)
    app = Starlette(routes=[
        *ingress.routes(svc, handlers, max_bytes=MAX_BYTES, limits=limits.bound,
                        tokens=lambda conn: tokens),
        *confirm.routes(svc, handlers, SECRET)])
    return Http(app, handlers, store, tokens, limits, pool, clock, token)


def assert_problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    return problems.assert_problem(resp, status, code, never=WRITTEN)


def link(request_id: str | UUID, expires_at: datetime, secret: bytes = SECRET,
         purpose: str = CONFIRMATION_PURPOSE) -> str:
    """The token notifier mails (:meth:`services.notifier.compose.Composer.confirmation_link`)."""
    return links.sign(secret, purpose, UUID(str(request_id)), expires_at)


# -- POST /v1/event-requests ----------------------------------------------------------------


async def test_a_public_request_is_queued_to_await_its_confirmation(http: Http) -> None:
    resp = await http.post(body(days_ahead=45, submitted_at="2025-01-01T00:00:00Z",
                                request_id=str(uuid7())))
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert (answer["status"], answer["district"]) == ("awaiting_confirmation", "district_1")
    assert answer["confirm_by"] == (START + timedelta(hours=48)).isoformat()
    assert "within 48 hours" in answer["answer"]
    (queued,) = http.queued()
    # intake mints the id and stamps the time it received the body (no backdating)
    assert str(queued.request_id) == answer["request_id"]
    assert queued.request_id.version == 7
    assert (queued.submitted_at, queued.agency_id) == (START, None)
    assert queued.requester is not None
    assert queued.requester.email == "quinn@example.org"
    assert [r.topic for r in http.outbox.published] == [EVENT_REQUEST_SUBMISSIONS.name]
    assert http.store.requests == {}  # the consumer records it, not the route
    assert list(http.limits.counts.values()) == [1]  # one confirmation e-mail counted


async def test_an_organizations_request_is_received_and_counts_no_confirmation(
        http: Http) -> None:
    resp = await http.post(body(), headers=http.auth())
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert (answer["status"], answer["district"]) == ("received", "district_1")
    assert "confirm_by" not in answer
    (queued,) = http.queued()
    assert (str(queued.request_id), queued.agency_id) == (answer["request_id"], ORG)
    same = await http.post(body(agency_id=ORG), headers=http.auth())  # naming itself is fine
    assert same.status_code == 202, same.text
    assert http.limits.counts == {}


async def test_a_request_failing_the_rules_is_a_422_with_every_reason_and_still_queued(
        http: Http) -> None:
    data = body(days_ahead=20)
    data["location"]["municipality"] = "Hamilton"
    problem = assert_problem(await http.post(data), 422, "event_request_rejected")
    assert {r["code"] for r in problem["reasons"]} == {"notice_too_short",
                                                       "municipality_outside_halton"}
    assert all(r["field"] and r["message"] for r in problem["reasons"])
    assert problem["earliest_acceptable_date"] == "2026-02-04"  # 30 days from the receipt
    assert "link to confirm your e-mail address was sent" in problem["detail"]
    (queued,) = http.queued()
    assert str(queued.request_id) == problem["request_id"]  # recorded as rejected by the consumer
    assert list(http.limits.counts.values()) == [1]  # its requester is asked to confirm too

    org = assert_problem(await http.post(body(days_ahead=20), headers=http.auth()), 422,
                         "event_request_rejected")
    assert [r["code"] for r in org["reasons"]] == ["notice_too_short"]
    assert "link" not in org["detail"]  # an organization's answer is e-mailed at once
    assert len(http.queued()) == 2


async def test_without_a_usable_address_nobody_is_asked_to_confirm(http: Http) -> None:
    problem = assert_problem(await http.post(body(email="not an address")), 422,
                             "event_request_rejected")
    assert [r["code"] for r in problem["reasons"]] == ["email_malformed"]
    assert "link" not in problem["detail"]
    assert len(http.queued()) == 1
    assert http.limits.counts == {}


async def test_what_is_not_an_event_request_is_refused_and_nothing_queued(http: Http) -> None:
    json_type = {"Content-Type": "application/json"}
    big = body(padding="x" * MAX_BYTES)
    assert_problem(await http.post(big), 413, "payload_too_large")
    assert_problem(await http.post(content=b"kind=speaker",
                                   headers={"Content-Type": "text/plain"}),
                   415, "unsupported_media_type")
    assert_problem(await http.post(content=b"{not json", headers=json_type), 400,
                   "malformed_json")
    assert_problem(await http.post(content=b"[" * 40 + b"]" * 40, headers=json_type), 400,
                   "malformed_json")
    for shape in (b"", b"[]", b'"speaker"'):
        problem = assert_problem(await http.post(content=shape, headers=json_type), 422,
                                 "contract_violation")
        assert problem["errors"] == [{"field": None, "message": "the body is not a JSON object"}]
    broken = body(kind="party", expected_attendees="many", windows="soon")
    problem = assert_problem(await http.post(broken), 422, "contract_violation")
    assert {e["field"] for e in problem["errors"]} == {"kind", "expected_attendees", "windows"}
    assert "party" not in json.dumps(problem)  # the values sent are never echoed
    assert (http.outbox.published, http.limits.counts) == ([], {})


async def test_agency_id_needs_the_agencys_own_live_token(http: Http) -> None:
    assert_problem(await http.post(body(agency_id=ORG)), 401, "unauthenticated")
    assert_problem(await http.post(body(agency_id="housing-services"), headers=http.auth()),
                   403, "wrong_agency")
    problem = assert_problem(await http.post(body(), headers={"Authorization": "Basic abc"}),
                             401, "unauthenticated")
    assert "send no Authorization header" in problem["detail"]
    unknown = assert_problem(await http.post(body(), headers=http.auth(
        intake_ingress.new_token())), 401, "invalid_token")
    assert "unknown, expired or revoked" in unknown["detail"]
    expired = intake_ingress.new_token()
    await http.tokens.add_token(intake_ingress.token_hash(expired), ORG,
                                START - timedelta(days=60), START - timedelta(seconds=1))
    assert_problem(await http.post(body(), headers=http.auth(expired)), 401, "invalid_token")
    assert (http.outbox.published, http.limits.counts) == ([], {})


async def test_an_empty_bucket_is_a_429_until_a_token_is_back_on_the_limits_clock(
        http: Http) -> None:
    statuses = [(await http.post(body(f"r{n}@example.org"), at=CLIENT)).status_code
                for n in range(2)]
    refused_body = await http.post(content=b"{not json",  # a refused body takes its token too
                                   headers={"Content-Type": "application/json"}, at=CLIENT)
    assert (statuses, refused_body.status_code) == ([202, 202], 400)
    problem = assert_problem(await http.post(body("r3@example.org"), at=CLIENT), 429,
                             "too_many_requests")
    assert "try again in 30 seconds" in problem["detail"]
    empty = await http.post(body("r3@example.org"), headers=http.auth(), at=CLIENT)
    assert_problem(empty, 429, "too_many_requests")
    assert empty.headers["Retry-After"] == "30"
    other = await http.post(body("r3@example.org"), at="198.51.100.8")  # its own bucket
    assert other.status_code == 202, other.text
    assert len(http.queued()) == 3

    http.clock.advance(timedelta(days=2))  # the business clock refills nothing
    assert (await http.post(body("r4@example.org"), at=CLIENT)).status_code == 429
    http.limits.clock.advance(timedelta(seconds=15.5))
    late = await http.post(body("r4@example.org"), at=CLIENT)
    assert late.headers["Retry-After"] == "15"  # 14.5 s to the next token, rounded up
    http.limits.clock.advance(timedelta(seconds=15))
    assert (await http.post(body("r4@example.org"), at=CLIENT)).status_code == 202
    assert len(http.queued()) == 4


async def test_one_inbox_gets_its_daily_confirmations_from_any_client_and_no_more(
        http: Http) -> None:
    variants = ("inbox+a@example.org", "INBOX@Example.org", "inbox+b@example.org")
    codes = [(await http.post(body(email), at=f"198.51.100.{30 + n}")).status_code
             for n, email in enumerate(variants)]
    assert codes[:2] == [202, 202]
    refused = await http.post(body("inbox@example.org"), at="198.51.100.40")
    problem = assert_problem(refused, 429, "too_many_confirmations")
    assert "already sent 2 links" in problem["detail"]
    assert "request_id" not in problem  # nothing recorded
    # 12:00 in Toronto on the limits' clock: twelve hours to Halton's midnight
    assert refused.headers["Retry-After"] == str(12 * 3600)
    assert codes[2] == 429
    assert len(http.queued()) == 2
    org = await http.post(body("inbox@example.org"), headers=http.auth(), at="198.51.100.41")
    assert org.status_code == 202, org.text  # an organization is sent no confirmation

    http.limits.clock.advance(timedelta(hours=12))  # a new day in Halton
    assert (await http.post(body("inbox@example.org"), at="198.51.100.42")).status_code == 202
    assert len(http.queued()) == 4


# -- the confirmation link ------------------------------------------------------------------


async def submitted(http: Http, **fields: Any) -> tuple[str, str]:
    """A public request posted and consumed: its id and the token of the link notifier mails."""
    resp = await http.post(body(**fields))
    rid = str(resp.json()["request_id"])
    (asked,) = [e for e in await http.consume(rid)
                if isinstance(e, EventRequestConfirmationRequested)]
    assert http.state(rid).status == "awaiting_confirmation"
    return rid, link(rid, asked.expires_at)


async def test_opening_the_link_shows_the_request_and_changes_nothing(http: Http) -> None:
    rid, token = await submitted(http)
    before, published = http.state(rid), list(http.outbox.published)
    for _ in range(2):  # a mail scanner, then the person
        shown = await http.page("GET", token)
        assert shown.status_code == 200, shown.text
        assert f"community event request {rid} for 1 District" in shown.text
        assert '<form method="post">' in shown.text
        assert "2026-01-07 10:00 (Toronto)" in shown.text  # the deadline, Halton time
        assert shown.headers["Referrer-Policy"] == "no-referrer"
        assert shown.headers["Cache-Control"] == "no-store"
        for text in WRITTEN:
            assert text not in shown.text
    assert (http.state(rid), http.outbox.published) == (before, published)


async def test_the_button_confirms_once_and_the_answer_goes_to_the_outbox(http: Http) -> None:
    rid, token = await submitted(http)
    http.clock.advance(timedelta(hours=3))
    confirmed = await http.page("POST", token)
    assert confirmed.status_code == 200, confirmed.text
    assert "your e-mail address is confirmed" in confirmed.text
    assert "now with 1 District&#x27;s Community Mobilization Bureau" in confirmed.text
    done, answer = http.published(EVENT_REQUESTS.name)
    assert isinstance(done, EventRequestConfirmed)
    assert isinstance(answer, EventRequestAcknowledged)
    assert (str(done.request_id), done.confirmed_at) == (rid, START + timedelta(hours=3))
    assert (str(answer.request_id), answer.acknowledged_at) == (rid, START + timedelta(hours=3))
    state = http.state(rid)
    assert (state.status, state.confirmed_at) == ("acknowledged", START + timedelta(hours=3))

    published = list(http.outbox.published)
    again = await http.page("POST", token)
    assert again.status_code == 200
    assert "was already confirmed" in again.text
    shown = await http.page("GET", token)
    assert "was confirmed on 2026-01-05 13:00 (Toronto)" in shown.text
    assert '<form method="post">' not in shown.text
    assert (http.outbox.published, http.state(rid)) == (published, state)


async def test_a_rejected_request_is_answered_with_its_reasons_once_confirmed(
        http: Http) -> None:
    rid, token = await submitted(http, days_ahead=20)
    answered = await http.page("POST", token)
    assert answered.status_code == 200, answered.text
    assert f"Request {rid} cannot be accepted" in answered.text
    done, answer = http.published(EVENT_REQUESTS.name)
    assert isinstance(done, EventRequestConfirmed)
    assert isinstance(answer, EventRequestRejected)
    assert [r.code for r in answer.reasons] == ["notice_too_short"]
    assert http.state(rid).status == "rejected"


async def test_a_link_not_signed_for_this_purpose_is_a_400_and_changes_nothing(
        http: Http) -> None:
    rid, token = await submitted(http)
    expires = START + timedelta(hours=48)
    head, tail = token.split(".")
    forged = (f"{head}.{tail[:-2]}{'AA' if tail[-2:] != 'AA' else 'BB'}",
              link(rid, expires, secret=b"another-secret-of-sixteen-bytes"),
              link(rid, expires, purpose="commande.notifier.ack.v1"),
              f"{link(rid, expires + timedelta(days=30)).split('.')[0]}.{tail}",  # extended
              "not-a-token")
    before = http.state(rid)
    for bad in forged:
        for method in ("GET", "POST"):
            page = await http.page(method, bad)
            assert page.status_code == 400, (method, bad)
            assert "not a valid confirmation link" in page.text
    assert http.published(EVENT_REQUESTS.name) == []
    assert http.state(rid) == before


async def test_an_expired_link_is_a_410_and_a_request_intake_does_not_know_a_404(
        http: Http) -> None:
    rid, token = await submitted(http)
    unknown = link(uuid7(), START + timedelta(hours=48))
    for method in ("GET", "POST"):
        page = await http.page(method, unknown)
        assert page.status_code == 404
        assert "This request is unknown" in page.text
    http.clock.set(START + timedelta(hours=48))
    for method in ("GET", "POST"):
        page = await http.page(method, token)
        assert page.status_code == 410
        assert "has expired" in page.text
    assert http.published(EVENT_REQUESTS.name) == []
    assert http.state(rid).status == "awaiting_confirmation"  # the expiry timer's, not the page's


async def test_a_request_that_expired_unconfirmed_is_a_410(http: Http) -> None:
    """The expiry timer's state (at the deadline) behind a link still honoured (the state's
    branch of the pages, whatever the token says)."""
    rid, token = await submitted(http)
    state = http.state(rid)
    assert state.confirm_expires_at is not None
    expired = decide_purge(state, state.confirm_expires_at).state
    assert expired.status == "expired"
    await http.store.save_request(expired)
    for method in ("GET", "POST"):
        page = await http.page(method, token)
        assert page.status_code == 410
        assert f"request {rid} expired unconfirmed" in page.text
    assert http.published(EVENT_REQUESTS.name) == []


async def test_an_organizations_request_needs_no_confirmation(http: Http) -> None:
    resp = await http.post(body(), headers=http.auth())
    rid = str(resp.json()["request_id"])
    await http.consume(rid)
    token = link(rid, START + timedelta(hours=48))
    for method in ("GET", "POST"):
        page = await http.page(method, token)
        assert page.status_code == 200
        assert f"request {rid} needs no confirmation" in page.text
    assert http.published(EVENT_REQUESTS.name) == []
    assert http.state(rid).status == "acknowledged"
