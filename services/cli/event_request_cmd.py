"""``commande event-request submit | schedule | decline | withdraw``: community event requests.

``submit FILE`` posts a request (the ``EventRequestSubmitted`` JSON) to intake's HTTP endpoint
``POST /v1/event-requests``, the public's way in (nobody else writes the submissions topic), and
prints intake's answer: the request id it minted, or every reason.
``schedule``, ``decline`` and ``withdraw`` are the district CMB manager's follow-up commands
(actor role ``cmb``; ``--agency`` is the CMB's agency slug): intake answers on
``commande.event-requests.v1`` with the fact or ``EventRequestCommandRefused`` and every reason,
which these commands wait for and print.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import typer
from pydantic import ValidationError
from uuid6 import uuid7

from schemas.base import Actor, Message
from schemas.envelope import Envelope
from schemas.errors import ContractError
from schemas.event_requests import (
    DeclineEventRequest,
    EventRequestAcknowledged,
    EventRequestCommand,
    EventRequestCommandRefused,
    EventRequestDeclined,
    EventRequestEvent,
    EventRequestRejected,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    ScheduleEventRequest,
    WithdrawEventRequest,
)
from schemas.topics import EVENT_REQUESTS
from services.cli.wire import Watch, publish
from services.directory import TIMEZONE
from services.runtime.clock import clock_for
from services.runtime.settings import Settings

SOURCE = "/commande/gateway"
"""Interim: intake takes the CMB's commands only from the gateway
(:data:`services.intake.provenance.EXPECTED_PRODUCERS`), and these commands connect with the
gateway's Kafka principal until the gateway's own event-request endpoints replace them."""
EVENT_REQUEST_PATH = "/v1/event-requests"
"""intake's public endpoint (:data:`services.intake.event_requests.ingress.PATH`)."""

app = typer.Typer(
    help="Community event requests: submit one, and the district CMB's follow-up commands."
    "\n\nExample: commande event-request schedule <request id> --date 2026-03-12 "
    "--start 18:30 --officer-role community_safety_officer --agency hrps-cmb-d1",
    no_args_is_help=True,
)

RequestId = Annotated[UUID, typer.Argument(help="The request id (from the acknowledgement).")]
Agency = Annotated[str, typer.Option(
    "--agency", help="The district's police CMB agency recording it (e.g. hrps-cmb-d1).")]
Wait = Annotated[float, typer.Option(help="Seconds to wait for intake's answer (0: do not wait).")]


def resolve_windows(data: dict[str, Any], today: date) -> dict[str, Any]:
    """Sample-file convenience: a window may give ``days_ahead`` (days after today in
    America/Toronto) instead of ``date``; the published request always has dates."""
    windows = data.get("windows")
    if isinstance(windows, list):
        for window in windows:
            if isinstance(window, dict) and "days_ahead" in window:
                ahead = window.pop("days_ahead")
                if not isinstance(ahead, int):
                    raise ContractError("windows[].days_ahead must be a whole number of days")
                window.setdefault("date", (today + timedelta(days=ahead)).isoformat())
    return data


def load_request(path: Path, now: datetime) -> EventRequestSubmitted:
    """The request in ``path`` with a new request id and, if absent, ``submitted_at`` now."""
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise ContractError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ContractError(f"{path} must hold a JSON object")
    data = resolve_windows(data, now.astimezone(ZoneInfo(TIMEZONE)).date())
    data["request_id"] = str(uuid7())
    data.setdefault("submitted_at", now.isoformat())
    try:
        return EventRequestSubmitted.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ContractError(f"invalid EventRequestSubmitted: {problems}") from None


async def _publish_and_wait(settings: Settings, message: Message, source: str,
                            wait: float) -> Envelope[Message] | None:
    key = message.key()

    def answers(env: Envelope[Message]) -> bool:
        return isinstance(env.event, EventRequestEvent) and env.event.key() == key

    if wait <= 0:
        await publish(settings, "gateway", [message], source=source)
        return None
    async with Watch(settings, "gateway", EVENT_REQUESTS.name) as watch:
        await publish(settings, "gateway", [message], source=source)
        return await watch.first(answers, wait)


def _describe(event: Message) -> str:
    if isinstance(event, EventRequestAcknowledged):
        return f"acknowledged: request {event.request_id}, followed up by {event.district}"
    if isinstance(event, EventRequestRejected | EventRequestCommandRefused):
        lines = [f"{'rejected' if isinstance(event, EventRequestRejected) else 'refused'}: "
                 f"request {event.request_id}"]
        lines += [f"  - {r.code} ({r.field or '-'}): {r.message}" for r in event.reasons]
        if isinstance(event, EventRequestRejected) and event.earliest_acceptable_date:
            lines.append(f"  earliest acceptable date: {event.earliest_acceptable_date}")
        return "\n".join(lines)
    if isinstance(event, EventRequestScheduled):
        return (f"scheduled: request {event.request_id} on {event.date} at "
                f"{event.start.strftime('%H:%M')} ({event.officer_role})")
    if isinstance(event, EventRequestDeclined):
        return f"declined: request {event.request_id} ({event.reason})"
    if isinstance(event, EventRequestWithdrawn):
        return f"withdrawn: request {event.request_id} ({event.reason})"
    return f"{type(event).__name__}: request {event.key()}"


def _finish(answer: Envelope[Message] | None, wait: float) -> None:
    if wait <= 0:
        return
    if answer is None:
        typer.echo(f"no answer from intake within {wait:g}s (is intake running?)", err=True)
        raise typer.Exit(2)
    typer.echo(_describe(answer.event))
    if isinstance(answer.event, EventRequestRejected | EventRequestCommandRefused):
        raise typer.Exit(1)


def _command(build: type[EventRequestCommand], agency: str, wait: float, **fields: Any) -> None:
    settings = Settings()
    try:
        command = build(actor=Actor(agency_id=agency, role="cmb"),
                        issued_at=clock_for(settings.clock_offset_file).now(), **fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ContractError(f"invalid {build.__name__}: {problems}") from None
    typer.echo(f"published {build.__name__} (request {command.request_id})")
    _finish(asyncio.run(_publish_and_wait(settings, command, SOURCE, wait)), wait)


def request_body(path: Path, now: datetime) -> dict[str, Any]:
    """What ``submit`` posts: the file's request, checked against the contract here, with its
    ``days_ahead`` resolved; without ``request_id`` and ``submitted_at``, which intake's ingress
    mints and stamps itself."""
    event = load_request(path, now)
    return event.model_dump(mode="json", exclude={"request_id", "submitted_at"},
                            exclude_none=True)


def describe_answer(status: int, answer: Any) -> tuple[int, list[str]]:
    """The exit code and the lines to print for intake's HTTP answer to a request."""
    answer = answer if isinstance(answer, dict) else {}
    request_id = answer.get("request_id")
    if status == 202:
        return 0, [f"received (request {request_id}): intake checked it and queued it for "
                   f"{answer.get('district')}; the acknowledgement with this request id goes to "
                   "the requester's e-mail"]
    if status == 422 and str(answer.get("type", "")).endswith(":event_request_rejected"):
        lines = [f"rejected (request {request_id}):"]
        lines += [f"  - {r.get('code')} ({r.get('field') or '-'}): {r.get('message')}"
                  for r in answer.get("reasons", []) if isinstance(r, dict)]
        if answer.get("earliest_acceptable_date"):
            lines.append(f"  earliest acceptable date: {answer['earliest_acceptable_date']}")
        return 1, lines
    lines = [f"refused by intake ({status}): {answer.get('title', 'no problem details')}"
             + (f": {answer['detail']}" if answer.get("detail") else "")]
    lines += [f"  - {e.get('field') or '(document)'}: {e.get('message')}"
              for e in answer.get("errors", []) if isinstance(e, dict)]
    return 2, lines


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(
        help="The request as JSON (EventRequestSubmitted without request_id; a window may give "
             "days_ahead instead of date).", exists=True, dir_okay=False)],
    url: Annotated[str | None, typer.Option(
        envvar="COMMANDE_INTAKE_URL",
        help="intake's HTTP address; by default http://COMMANDE_HTTP_HOST:COMMANDE_HTTP_PORT.")
    ] = None,
    token: Annotated[str | None, typer.Option(
        envvar="COMMANDE_INTAKE_TOKEN",
        help="An organization's HTTP ingress token (`commande intake tokens issue`), to submit "
             "as that agency; none for a member of the public.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for intake's answer.")] = 30.0,
) -> None:
    """Submit a community event request to intake's HTTP endpoint (POST /v1/event-requests, the
    public's way in) and print its answer: the request id intake minted and the district, or
    every reason it cannot be accepted (the request is then recorded as rejected).

    Exit 0 when received, 1 when rejected, 2 when the file is invalid, intake refused the call
    or did not answer.

    Example: commande event-request submit deploy/samples/event-requests/milton-seniors-talk.json
    """
    settings = Settings()
    body = request_body(file, clock_for(settings.clock_offset_file).now())
    base = (url or f"http://{settings.http_host}:{settings.http_port}").rstrip("/")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.post(f"{base}{EVENT_REQUEST_PATH}", json=body, headers=headers,
                              timeout=timeout)
    except httpx.HTTPError as exc:
        typer.echo(f"intake did not answer at {base} ({type(exc).__name__}): is it running? "
                   "(`commande run intake` or `commande run all`; COMMANDE_INTAKE_URL)", err=True)
        raise typer.Exit(2) from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    code, lines = describe_answer(response.status_code, answer)
    for line in lines:
        typer.echo(line, err=code == 2)
    if code:
        raise typer.Exit(code)


@app.command()
def schedule(
    request_id: RequestId,
    date_: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"],
                                            help="The day agreed (YYYY-MM-DD).")],
    start: Annotated[str, typer.Option(help="The time agreed, HH:MM (America/Toronto).")],
    officer_role: Annotated[str, typer.Option(
        help="The role attending (event_officer_roles.yaml), never a name.")],
    agency: Agency,
    notes: Annotated[str | None, typer.Option(
        help="A note for the requester (no personal details).")] = None,
    wait: Wait = 10.0,
) -> None:
    """Schedule a request (the district CMB manager).

    Example: commande event-request schedule 0194a1b2-0000-7000-8000-000000000007
    --date 2026-03-12 --start 18:30 --officer-role community_safety_officer --agency hrps-cmb-d1
    """
    try:
        at = time.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter("use HH:MM", param_hint="--start") from None
    _command(ScheduleEventRequest, agency, wait, request_id=request_id, date=date_.date(),
             start=at, officer_role=officer_role, notes=notes)


@app.command()
def decline(
    request_id: RequestId,
    reason: Annotated[str, typer.Option(
        help="A decline reason code (event_decline_reasons.yaml): no_capacity, "
             "date_unavailable, outside_mandate, duplicate, ...")],
    agency: Agency,
    note: Annotated[str | None, typer.Option(
        help="A sentence for the requester (no personal details).")] = None,
    wait: Wait = 10.0,
) -> None:
    """Decline a request (the district CMB manager).

    Example: commande event-request decline 0194a1b2-0000-7000-8000-000000000007
    --reason no_capacity --note "No officer is free that week." --agency hrps-cmb-d1
    """
    _command(DeclineEventRequest, agency, wait, request_id=request_id, reason=reason, note=note)


@app.command()
def withdraw(
    request_id: RequestId,
    reason: Annotated[str, typer.Option(
        help="A withdrawal reason code (event_withdrawal_reasons.yaml): no_longer_needed, "
             "submitted_in_error, ...")],
    agency: Agency,
    wait: Wait = 10.0,
) -> None:
    """Record that the requester withdrew a request (acknowledged or scheduled).

    Example: commande event-request withdraw 0194a1b2-0000-7000-8000-000000000007
    --reason no_longer_needed --agency hrps-cmb-d1
    """
    _command(WithdrawEventRequest, agency, wait, request_id=request_id, reason=reason)
