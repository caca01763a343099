"""The HTTP API's shapes (pure): request bodies, answers, and the table of operations that both
the routes and the committed OpenAPI document are made from.

A request body never carries ``actor`` (unknown fields are refused): the gateway stamps the
verified actor on the command itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import (
    Actor,
    AerDecision,
    AgencyId,
    Code,
    Date,
    IdentityRelease,
    ShortText,
    UtcDatetime,
    Uuid7,
)
from schemas.commands import AssignmentAnswer
from schemas.event_requests import LocalTime
from schemas.situations import InterventionOutcome


class Body(BaseModel):
    """A command body: frozen, strict about unknown fields (``actor`` among them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DecisionBody(Body):
    """The table's Filter 2 decision. ``meeting_id`` defaults to the situation's meeting."""

    decision: AerDecision
    meeting_id: Uuid7 | None = None
    note: ShortText | None = None


class AssignmentBody(Body):
    """The lead and assisting agencies (Filter 3). ``meeting_id`` defaults to the situation's
    meeting; ``identity_release`` to the table's setting in the directory."""

    lead: AgencyId
    assisting: tuple[AgencyId, ...] = Field(default=(), max_length=30)
    meeting_id: Uuid7 | None = None
    identity_release: IdentityRelease | None = None


class ResponseBody(Body):
    """Your agency's answer to its assignment (a reason for rejected, on-hold, failed, cancelled)."""

    answer: AssignmentAnswer
    reason: ShortText | None = None


class InterventionBody(Body):
    """Your agency's intervention (Filter 4)."""

    outcome: InterventionOutcome
    first_contact_at: UtcDatetime | None = None
    services_mobilized: tuple[Code, ...] = Field(default=(), max_length=20)


class ConclusionBody(Body):
    """A conclusion code from reference data."""

    conclusion: Code
    meeting_id: Uuid7 | None = None


class ReopeningBody(Body):
    """Why a concluded situation is reopened."""

    reason: Code


class ScheduleBody(Body):
    """The day, time and attending role agreed with the requester (America/Toronto)."""

    date: Date
    start: LocalTime
    officer_role: Code
    notes: ShortText | None = None


class DeclineBody(Body):
    """A decline-reason code and a sentence for the requester."""

    reason: Code
    note: ShortText | None = None


class WithdrawalBody(Body):
    """A withdrawal-reason code."""

    reason: Code


# -- answers -----------------------------------------------------------------------------------


class Answer(BaseModel):
    """Base of the documented answers."""

    model_config = ConfigDict(frozen=True)


class CausedEvent(Answer):
    """A fact a command caused: its CloudEvents type and id, and its (de-identified) data."""

    type: str
    id: str
    data: dict[str, Any]


class CommandOutcome(Answer):
    """A command and what became of it."""

    command_id: str
    command_type: str
    outcome: Literal["accepted", "rejected", "pending"]
    actor: Actor
    events: list[CausedEvent] = []
    reasons: list[dict[str, Any]] = []


class Problem(Answer):
    """RFC 9457 problem details (``application/problem+json``); never echoes a request value."""

    type: str
    title: str
    status: int
    detail: str
    reasons: list[dict[str, Any]] | None = None
    errors: list[dict[str, Any]] | None = None
    command_id: str | None = None
    actor: dict[str, Any] | None = None
    status_url: str | None = None


class CapacityOut(Answer):
    """An agency this person acts for, in which post, at which tables."""

    agency_id: str
    role: str
    districts: list[str]


class Me(Answer):
    """Who the gateway takes you for."""

    agencies: list[CapacityOut]
    staff: list[str]
    not_counted: list[str]


class MeetingOut(Answer):
    """A table meeting (times UTC) and whether one of your agencies is invited."""

    meeting_id: str
    district: str
    kind: str
    starts_at: str
    ends_at: str
    venue: str
    invited: bool


class TableOut(Answer):
    """A district table you sit at, with its coming meetings."""

    district: str
    chair_agency_id: str | None
    identity_release_stage: str
    meetings: list[MeetingOut]


class Tables(Answer):
    """Your tables and their meetings."""

    tables: list[TableOut]


class AgendaOut(Answer):
    """Your agency's latest agenda for a meeting (the ``AgendaIssued`` data)."""

    meeting_id: str
    agency_id: str
    revision: int
    agenda: dict[str, Any]


class TimelineEntryOut(Answer):
    """One de-identified step of a situation's life."""

    at: str
    event: str
    detail: str


class TimelineOut(Answer):
    """A situation's de-identified timeline, its district, last step and current meeting."""

    situation_id: str
    district: str
    status: str
    meeting_id: str | None
    entries: list[TimelineEntryOut]


class AssignmentOut(Answer):
    """A task of one of your agencies."""

    situation_id: str
    agency_id: str
    role: str
    state: str
    district: str
    updated_at: str


class Assignments(Answer):
    """Your agencies' tasks."""

    assignments: list[AssignmentOut]


# -- operations --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the API: the route serves it, the OpenAPI document describes it."""

    method: Literal["GET", "POST"]
    path: str
    operation_id: str
    summary: str
    tag: str
    ok: type[Answer]
    body: type[Body] | None = None
    ok_status: int = 200
    statuses: tuple[int, ...] = field(default=(401, 403))
    params: tuple[str, ...] = ()


_COMMAND = (401, 403, 409, 413, 415, 422, 503, 504)
OPERATIONS: tuple[Operation, ...] = (
    Operation("POST", "/v1/situations/{situation_id}/decision", "decide",
              "Record the table's Filter 2 decision (the district's chair)", "table",
              CommandOutcome, DecisionBody, statuses=_COMMAND, params=("situation_id",)),
    Operation("POST", "/v1/situations/{situation_id}/assignment", "assign",
              "Name the lead and assisting agencies (the district's chair)", "table",
              CommandOutcome, AssignmentBody, statuses=_COMMAND, params=("situation_id",)),
    Operation("POST", "/v1/situations/{situation_id}/response", "respond",
              "Answer or move your agency's assignment", "table",
              CommandOutcome, ResponseBody, statuses=_COMMAND, params=("situation_id",)),
    Operation("POST", "/v1/situations/{situation_id}/intervention", "intervene",
              "Record your agency's intervention", "table",
              CommandOutcome, InterventionBody, statuses=_COMMAND, params=("situation_id",)),
    Operation("POST", "/v1/situations/{situation_id}/conclusion", "conclude",
              "Conclude a situation (the district's chair)", "table",
              CommandOutcome, ConclusionBody, statuses=_COMMAND, params=("situation_id",)),
    Operation("POST", "/v1/situations/{situation_id}/reopening", "reopen",
              "Reopen a concluded situation (the district's chair)", "table",
              CommandOutcome, ReopeningBody, statuses=_COMMAND, params=("situation_id",)),
    Operation("POST", "/v1/event-requests/{request_id}/schedule", "schedule_event_request",
              "Schedule a community event request (the district's CMB)", "event requests",
              CommandOutcome, ScheduleBody, statuses=_COMMAND, params=("request_id",)),
    Operation("POST", "/v1/event-requests/{request_id}/decline", "decline_event_request",
              "Decline a community event request (the district's CMB)", "event requests",
              CommandOutcome, DeclineBody, statuses=_COMMAND, params=("request_id",)),
    Operation("POST", "/v1/event-requests/{request_id}/withdrawal", "withdraw_event_request",
              "Record that the requester withdrew (the district's CMB)", "event requests",
              CommandOutcome, WithdrawalBody, statuses=_COMMAND, params=("request_id",)),
    Operation("GET", "/v1/commands/{command_id}", "command_status",
              "What became of a command you issued (after a 504)", "table", CommandOutcome,
              statuses=(401, 403, 404), params=("command_id",)),
    Operation("GET", "/v1/me", "me", "Who the gateway takes you for", "queries", Me,
              statuses=(401,)),
    Operation("GET", "/v1/tables", "tables", "Your tables and their coming meetings", "queries",
              Tables, statuses=(401,)),
    Operation("GET", "/v1/meetings/{meeting_id}/agenda", "agenda",
              "Your agency's latest agenda for a meeting", "queries", AgendaOut,
              statuses=(401, 403, 404), params=("meeting_id",)),
    Operation("GET", "/v1/situations/{situation_id}/timeline", "timeline",
              "A situation's de-identified timeline", "queries", TimelineOut,
              statuses=(401, 403, 404), params=("situation_id",)),
    Operation("GET", "/v1/assignments", "assignments", "Your agencies' assignments", "queries",
              Assignments, statuses=(401,)),
)
"""Every operation, in the document's order."""

STATUS_TEXT = {
    200: "OK", 202: "Accepted, not yet settled", 401: "No valid bearer token",
    403: "You may not do this (a refused command names you in its CommandRejected)",
    404: "Not found", 409: "Refused: the command does not fit the current state",
    413: "Body too large", 415: "Not application/json",
    422: "Refused: the body breaks the contract or a rule (every reason listed)",
    503: "A dependency is unavailable; try again",
    504: "No outcome in time: the command was published; look at status_url later",
}
