"""The gateway's HTTP shell: authenticate, map to an actor, publish, wait, answer.

A command request goes: bearer token → claims (:mod:`.tokens`) → identity through the directory
(:mod:`.identity`) → the command with the verified actor and the gateway's time → the outbox
(same transaction as its ``commands`` row; published with ``ce_source=/commande/gateway``) →
the outcome convening or intake records (:mod:`.waiting`) → 200 with the facts, 403/409/422 with
every reason and the actor named, or 504 with where to look later.

Only a sign-in that maps to no agency at all is stopped here (403 ``no_agency``): anyone else's
command reaches convening or intake, which decide, so a refusal of authority is on record as a
``CommandRejected`` (or ``EventRequestCommandRefused``) naming who was refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from directory import TIMEZONE, DirectoryHolder
from schemas.base import Actor, Command
from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    ReopenSituation,
    RespondToAssignment,
    identifying_text,
)
from schemas.errors import TransientError, Unauthenticated
from schemas.event_requests import DeclineEventRequest, ScheduleEventRequest, WithdrawEventRequest
from services.gateway import access, api, store
from services.gateway.identity import (
    Identity,
    NoAgency,
    agency_actor,
    chair_actor,
    cmb_actor,
    principal_from_claims,
    resolve,
)
from services.gateway.outcomes import Accepted, Outcome, Refused, refusal_status, settle
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import TokenVerifier
from services.gateway.waiting import Waiters
from services.runtime import outbox
from services.runtime.clock import Clock
from services.runtime.db import DB_UNAVAILABLE, Connection
from services.runtime.events import emit
from services.runtime.logging import get_logger
from services.runtime.problems import field_errors, problem, read_json_body
from services.runtime.service import Service

SOURCE = "/commande/gateway"
log = get_logger("commande.gateway")


@dataclass(frozen=True, slots=True)
class Draft:
    """A command about to be published, and what it is about."""

    command: Command
    target_id: UUID


@dataclass(frozen=True, slots=True)
class Refusal:
    """A command stopped by the gateway before it was published (or a dependency down): the
    API answers it as a problem, the console in words."""

    status: int
    code: str
    title: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)

    def response(self) -> Response:
        """The problem details answer."""
        return problem(self.status, self.code, self.title, self.detail, **self.extra)


@dataclass(frozen=True, slots=True)
class Issued:
    """A command published through the outbox, and its outcome if it came within the wait."""

    command: Command
    command_id: UUID
    outcome: Outcome | None


Build = Callable[[Connection, Identity, Any, UUID, datetime], Awaitable[Draft | Refusal]]


def _no_agency(refusal: NoAgency) -> Refusal:
    return Refusal(403, refusal.code, "No agency to act for", refusal.message)


def _need(what: str, field_name: str) -> Refusal:
    return Refusal(422, "default_unknown", "A value is needed",
                   f"The gateway does not know this {what} yet: give {field_name}.",
                   {"errors": [{"field": field_name, "message": "required here"}]})


class Gateway:
    """The routes' dependencies: the service (pool), settings, clock, directory, verifier."""

    def __init__(self, svc: Service, settings: GatewaySettings, clock: Clock,
                 directory: DirectoryHolder, verifier: TokenVerifier, waiters: Waiters) -> None:
        self.svc = svc
        self.settings = settings
        self.clock = clock
        self.directory = directory
        self.verifier = verifier
        self.waiters = waiters

    def _today(self) -> date:
        return self.clock.now().astimezone(ZoneInfo(TIMEZONE)).date()

    async def identify(self, request: Request) -> Identity | Response:
        """The caller's identity, or the 401/503 problem."""
        try:
            claims = await self.verifier.verify(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return problem(401, exc.code, "Not authenticated", str(exc))
        except TransientError as exc:
            log.warning("identity provider unavailable", error=str(exc))
            return problem(503, "identity_provider_unavailable", "Cannot check your sign-in now",
                           "The identity provider does not answer; try again shortly.")
        principal = principal_from_claims(claims, self.settings.oidc_groups_claim)
        return resolve(principal, self.directory.current(), self._today())

    # -- commands -------------------------------------------------------------------------

    def command_route(self, op: api.Operation, build: Build) -> Route:
        """The route of a command operation: ``build`` turns the body into the command."""
        assert op.body is not None
        body_model: type[BaseModel] = op.body
        target_param = op.params[0]

        async def endpoint(request: Request) -> Response:
            identity = await self.identify(request)
            if isinstance(identity, Response):
                return identity
            raw = await read_json_body(request, self.settings.gateway_max_bytes, "A command")
            if isinstance(raw, Response):
                return raw
            try:
                body = body_model.model_validate_json(raw or b"{}")
                target = UUID(request.path_params[target_param])
            except ValidationError as exc:
                return problem(422, "contract_violation", "The body does not match the contract",
                               "Fix every listed field (the actor is never sent: it is you).",
                               errors=field_errors(exc))
            except ValueError:
                return problem(404, "not_found", "Not found", f"{target_param} is not a UUID.")
            wait = _wait_seconds(request, self.settings.gateway_answer_seconds)
            issued = await self.issue(identity, build, body, target, wait)
            if isinstance(issued, Refusal):
                return issued.response()
            return self._answer(issued, wait)

        return Route(op.path, endpoint, methods=[op.method], name=op.operation_id)

    async def issue(self, identity: Identity, build: Build, body: Any, target: UUID,
                    wait: float) -> Issued | Refusal:
        """Build the command (the verified actor, the read model's defaults), refuse identifying
        text before anything is published, publish it through the outbox and wait up to
        ``wait`` seconds for its outcome. The API and the console both act through here."""
        now = self.clock.now()
        try:
            async with self.svc.pool.acquire() as conn:
                draft = await build(conn, identity, body, target, now)
                if isinstance(draft, Refusal):
                    return draft
                found = identifying_text(draft.command)
                if found:  # never published: the table-actions topic keeps it a year
                    return Refusal(422, "identifying_text", "The text identifies someone",
                                   "Reword every listed field; nothing was sent.",
                                   {"reasons": [r.model_dump(mode="json") for r in found]})
                command_id = await self._publish(conn, draft, now)
        except ValidationError as exc:
            return Refusal(422, "contract_violation", "The command breaks its contract",
                           "Fix every listed field.", {"errors": field_errors(exc)})
        except DB_UNAVAILABLE:
            return Refusal(503, "unavailable", "Try again shortly",
                           "The gateway's database is unavailable.")
        outcome = None
        if wait > 0:
            outcome = await self.waiters.wait(self.svc.pool, command_id, draft.command.ce_type, wait)
        if outcome is None:
            if wait > 0:
                log.info("no outcome in time", command_type=draft.command.ce_type,
                         command_id=str(command_id))
        else:
            log.info("command settled", command_type=draft.command.ce_type,
                     command_id=str(command_id),
                     outcome="accepted" if isinstance(outcome, Accepted) else "rejected")
        return Issued(draft.command, command_id, outcome)

    async def _publish(self, conn: Connection, draft: Draft, now: datetime) -> UUID:
        record = emit(draft.command, source=SOURCE, time=now)
        command_id = UUID(dict(record.headers)["ce_id"].decode())
        actor = draft.command.actor
        async with conn.transaction():
            await store.add_command(conn, command_id, draft.command.ce_type, draft.target_id,
                                    actor.agency_id, actor.role, now)
            await outbox.add(conn, self.svc.name, [record])
        log.info("command published", command_type=draft.command.ce_type,
                 command_id=str(command_id), agency_id=actor.agency_id, role=actor.role)
        return command_id

    def _answer(self, issued: Issued, wait: float) -> Response:
        command, command_id, outcome = issued.command, issued.command_id, issued.outcome
        status_url = f"/v1/commands/{command_id}"
        if outcome is None:
            if wait <= 0:
                return _outcome_response(command_id, command.ce_type, command.actor, None,
                                         headers={"Location": status_url})
            return problem(504, "no_outcome_yet", "No outcome in time",
                           f"The command was published but not settled within {wait:g}s; "
                           "ask status_url later.", command_id=str(command_id),
                           status_url=status_url)
        return _outcome_response(command_id, command.ce_type, command.actor, outcome)

    # -- the builders: body + identity + read model → command ------------------------------

    async def decide(self, conn: Connection, who: Identity, body: api.DecisionBody,
                     sid: UUID, now: datetime) -> Draft | Refusal:
        """``RecordAerDecision`` by the situation's chair."""
        known = await store.situation(conn, sid)
        actor = chair_actor(who, known.district if known else None)
        if isinstance(actor, NoAgency):
            return _no_agency(actor)
        meeting = body.meeting_id or (known.meeting_id if known else None)
        if meeting is None:
            return _need("situation's meeting", "meeting_id")
        return Draft(RecordAerDecision(situation_id=sid, meeting_id=meeting, decision=body.decision,
                                       note=body.note, actor=actor, issued_at=now), sid)

    async def assign(self, conn: Connection, who: Identity, body: api.AssignmentBody,
                     sid: UUID, now: datetime) -> Draft | Refusal:
        """``AssignAgencies``: identity release from the table's setting unless given."""
        known = await store.situation(conn, sid)
        actor = chair_actor(who, known.district if known else None)
        if isinstance(actor, NoAgency):
            return _no_agency(actor)
        meeting = body.meeting_id or (known.meeting_id if known else None)
        if meeting is None:
            return _need("situation's meeting", "meeting_id")
        release = body.identity_release
        if release is None:
            table = self.directory.current().table(known.district) if known else None
            if table is None:
                return _need("situation's table", "identity_release")
            release = table.identity_release_stage
        return Draft(AssignAgencies(situation_id=sid, meeting_id=meeting, lead=body.lead,
                                    assisting=body.assisting, identity_release=release,
                                    actor=actor, issued_at=now), sid)

    async def respond(self, conn: Connection, who: Identity, body: api.ResponseBody,
                      sid: UUID, now: datetime) -> Draft | Refusal:
        """``RespondToAssignment`` for the caller's own agency."""
        actor = agency_actor(who, await store.tasks_of_situation(conn, sid))
        if isinstance(actor, NoAgency):
            return _no_agency(actor)
        return Draft(RespondToAssignment(situation_id=sid, agency_id=actor.agency_id,
                                         answer=body.answer, reason=body.reason, actor=actor,
                                         issued_at=now), sid)

    async def intervene(self, conn: Connection, who: Identity, body: api.InterventionBody,
                        sid: UUID, now: datetime) -> Draft | Refusal:
        """``RecordIntervention`` for the caller's own agency."""
        actor = agency_actor(who, await store.tasks_of_situation(conn, sid))
        if isinstance(actor, NoAgency):
            return _no_agency(actor)
        return Draft(RecordIntervention(situation_id=sid, agency_id=actor.agency_id,
                                        outcome=body.outcome, first_contact_at=body.first_contact_at,
                                        services_mobilized=body.services_mobilized, actor=actor,
                                        issued_at=now), sid)

    async def conclude(self, conn: Connection, who: Identity, body: api.ConclusionBody,
                       sid: UUID, now: datetime) -> Draft | Refusal:
        """``ConcludeSituation`` by the situation's chair."""
        known = await store.situation(conn, sid)
        actor = chair_actor(who, known.district if known else None)
        if isinstance(actor, NoAgency):
            return _no_agency(actor)
        return Draft(ConcludeSituation(situation_id=sid, conclusion=body.conclusion,
                                       meeting_id=body.meeting_id, actor=actor, issued_at=now), sid)

    async def reopen(self, conn: Connection, who: Identity, body: api.ReopeningBody,
                     sid: UUID, now: datetime) -> Draft | Refusal:
        """``ReopenSituation`` by the situation's chair."""
        known = await store.situation(conn, sid)
        actor = chair_actor(who, known.district if known else None)
        if isinstance(actor, NoAgency):
            return _no_agency(actor)
        return Draft(ReopenSituation(situation_id=sid, reason=body.reason, actor=actor,
                                     issued_at=now), sid)

    async def _cmb(self, conn: Connection, who: Identity, rid: UUID) -> Actor | Refusal:
        actor = cmb_actor(who, await store.event_request_district(conn, rid))
        return _no_agency(actor) if isinstance(actor, NoAgency) else actor

    async def schedule(self, conn: Connection, who: Identity, body: api.ScheduleBody,
                       rid: UUID, now: datetime) -> Draft | Refusal:
        """``ScheduleEventRequest`` by the district's CMB."""
        actor = await self._cmb(conn, who, rid)
        if isinstance(actor, Refusal):
            return actor
        return Draft(ScheduleEventRequest(request_id=rid, date=body.date, start=body.start,
                                          officer_role=body.officer_role, notes=body.notes,
                                          actor=actor, issued_at=now), rid)

    async def decline(self, conn: Connection, who: Identity, body: api.DeclineBody,
                      rid: UUID, now: datetime) -> Draft | Refusal:
        """``DeclineEventRequest`` by the district's CMB."""
        actor = await self._cmb(conn, who, rid)
        if isinstance(actor, Refusal):
            return actor
        return Draft(DeclineEventRequest(request_id=rid, reason=body.reason, note=body.note,
                                         actor=actor, issued_at=now), rid)

    async def withdraw(self, conn: Connection, who: Identity, body: api.WithdrawalBody,
                       rid: UUID, now: datetime) -> Draft | Refusal:
        """``WithdrawEventRequest`` by the district's CMB."""
        actor = await self._cmb(conn, who, rid)
        if isinstance(actor, Refusal):
            return actor
        return Draft(WithdrawEventRequest(request_id=rid, reason=body.reason, actor=actor,
                                          issued_at=now), rid)

    # -- queries --------------------------------------------------------------------------

    async def me(self, request: Request) -> Response:
        """``GET /v1/me``."""
        who = await self.identify(request)
        if isinstance(who, Response):
            return who
        return _json(api.Me(agencies=[api.CapacityOut(agency_id=c.agency_id, role=c.role,
                                                      districts=list(c.districts))
                                      for c in who.capacities],
                            staff=sorted(who.principal.staff),
                            not_counted=[*who.refused, *(f"{g}: not a commande group"
                                                         for g in who.principal.unrecognised)]))

    async def tables(self, request: Request) -> Response:
        """``GET /v1/tables``."""
        who = await self.identify(request)
        if isinstance(who, Response):
            return who
        directory, today, now = self.directory.current(), self._today(), self.clock.now()
        districts = access.table_districts(who, [t.district for t in directory.tables])
        async with self.svc.pool.acquire() as conn:
            meetings = await store.meetings_of(conn, districts, sorted(who.agencies), now)
        out = []
        for district in districts:
            table = directory.table(district)
            assert table is not None
            cmb = directory.cmb(district, today)
            out.append(api.TableOut(
                district=district, chair_agency_id=cmb.agency_id if cmb else None,
                identity_release_stage=table.identity_release_stage,
                meetings=[api.MeetingOut(**m) for m in meetings if m["district"] == district]))
        return _json(api.Tables(tables=out))

    async def agenda(self, request: Request) -> Response:
        """``GET /v1/meetings/{meeting_id}/agenda``."""
        who = await self.identify(request)
        if isinstance(who, Response):
            return who
        meeting = _uuid(request.path_params["meeting_id"])
        found = None
        if meeting is not None and who.capacities:
            async with self.svc.pool.acquire() as conn:
                found = await store.agenda(conn, meeting, [c.agency_id for c in who.capacities])
        if found is None:
            return problem(404, "no_agenda", "No agenda for you",
                           "None of your agencies has an agenda for this meeting (yet).")
        agency, revision, body = found
        return _json(api.AgendaOut(meeting_id=str(meeting), agency_id=agency, revision=revision,
                                   agenda=body))

    async def timeline(self, request: Request) -> Response:
        """``GET /v1/situations/{situation_id}/timeline``."""
        who = await self.identify(request)
        if isinstance(who, Response):
            return who
        sid = _uuid(request.path_params["situation_id"])
        if sid is None:
            return problem(404, "unknown_situation", "Unknown situation", "No situation has this id.")
        async with self.svc.pool.acquire() as conn:
            known = await store.situation(conn, sid)
            if known is None:
                return problem(404, "unknown_situation", "Unknown situation",
                               "No situation has this id (or the gateway has not seen it yet).")
            invited = await store.invited_for(conn, sid)
            assigned = frozenset(await store.tasks_of_situation(conn, sid))
            if not access.may_see_situation(who, known.district, invited, assigned):
                return problem(403, "not_your_table", "Not your situation",
                               "Only its district's CMB, the agencies invited or assigned, and "
                               "analysts see a situation's timeline.")
            entries = await store.timeline(conn, sid)
        return _json(api.TimelineOut(
            situation_id=str(sid), district=known.district, status=known.status,
            meeting_id=str(known.meeting_id) if known.meeting_id else None, entries=[
            api.TimelineEntryOut(at=at.isoformat(), event=event, detail=detail)
            for at, event, detail in entries]))

    async def assignments(self, request: Request) -> Response:
        """``GET /v1/assignments``."""
        who = await self.identify(request)
        if isinstance(who, Response):
            return who
        async with self.svc.pool.acquire() as conn:
            rows = await store.tasks_of(conn, sorted(who.agencies))
        return _json(api.Assignments(assignments=[api.AssignmentOut(**r) for r in rows]))

    async def command_status(self, request: Request) -> Response:
        """``GET /v1/commands/{command_id}``."""
        who = await self.identify(request)
        if isinstance(who, Response):
            return who
        command_id = _uuid(request.path_params["command_id"])
        async with self.svc.pool.acquire() as conn:
            row = await store.command(conn, command_id) if command_id else None
            if row is None or command_id is None:
                return problem(404, "unknown_command", "Unknown command",
                               "No command with this id was issued through the gateway.")
            if not access.may_see_command(who, row.agency_id):
                return problem(403, "not_your_command", "Not your command",
                               "Only the agency that issued a command sees its outcome.")
            outcome = settle(row.command_type, await store.outcomes(conn, command_id))
        actor = Actor.model_validate({"agency_id": row.agency_id, "role": row.role})
        return _outcome_response(command_id, row.command_type, actor, outcome, query=True)

    def builders(self) -> dict[str, Build]:
        """The command builders by operation id (the console issues the same commands)."""
        return {
            "decide": self.decide, "assign": self.assign, "respond": self.respond,
            "intervene": self.intervene, "conclude": self.conclude, "reopen": self.reopen,
            "schedule_event_request": self.schedule, "decline_event_request": self.decline,
            "withdraw_event_request": self.withdraw}

    def routes(self) -> list[BaseRoute]:
        """Every operation of :data:`api.OPERATIONS`, in its order."""
        handlers: dict[str, Callable[[Request], Awaitable[Response]]] = {
            "command_status": self.command_status, "me": self.me, "tables": self.tables,
            "agenda": self.agenda, "timeline": self.timeline, "assignments": self.assignments}
        builders = self.builders()
        out: list[BaseRoute] = []
        for op in api.OPERATIONS:
            if op.body is not None:
                out.append(self.command_route(op, builders[op.operation_id]))
            else:
                out.append(Route(op.path, handlers[op.operation_id], methods=[op.method],
                                 name=op.operation_id))
        return out


def _outcome_response(command_id: UUID, command_type: str, actor: Actor, outcome: Outcome | None,
                      *, query: bool = False, headers: dict[str, str] | None = None) -> Response:
    """200 with the facts; a refusal as a problem (403/409/422) or, for a query, 200; pending 202."""
    if isinstance(outcome, Refused):
        if not query:
            return problem(refusal_status(r.get("code", "") for r in outcome.reasons),
                           "command_rejected", "Command rejected",
                           "The command was refused; every reason is listed.",
                           command_id=str(command_id), actor=outcome.actor or actor.model_dump(),
                           reasons=outcome.reasons)
        return _json(api.CommandOutcome(command_id=str(command_id), command_type=command_type,
                                        outcome="rejected", actor=actor, reasons=outcome.reasons))
    if isinstance(outcome, Accepted):
        return _json(api.CommandOutcome(
            command_id=str(command_id), command_type=command_type, outcome="accepted", actor=actor,
            events=[api.CausedEvent(type=f.ce_type, id=f.ce_id, data=dict(f.body))
                    for f in outcome.facts]))
    return _json(api.CommandOutcome(command_id=str(command_id), command_type=command_type,
                                    outcome="pending", actor=actor), status=202, headers=headers)


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def _wait_seconds(request: Request, default: float) -> float:
    """``?wait=<seconds>`` (0: answer 202 at once), at most 120; the setting otherwise."""
    raw = request.query_params.get("wait")
    if raw is None:
        return default
    try:
        return min(max(float(raw), 0.0), 120.0)
    except ValueError:
        return default
