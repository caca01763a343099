"""``commande event-request submit | schedule | decline | withdraw``: community event requests.

``submit FILE`` publishes a request (the ``EventRequestSubmitted`` JSON) on
``commande.event-request-submissions.v1``, minting its request id, and waits for intake's answer.
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

SOURCE = "/commande/cli"

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


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(
        help="The request as JSON (EventRequestSubmitted without request_id; a window may give "
             "days_ahead instead of date).", exists=True, dir_okay=False)],
    wait: Wait = 30.0,
) -> None:
    """Submit a community event request (minting its id) and print intake's answer.

    Exit 0 when acknowledged, 1 when rejected, 2 when the file is invalid or no answer came.

    Example: commande event-request submit deploy/samples/event-requests/milton-seniors-talk.json
    """
    settings = Settings()
    event = load_request(file, clock_for(settings.clock_offset_file).now())
    source = f"/agencies/{event.agency_id}" if event.agency_id else "/public"
    typer.echo(f"published EventRequestSubmitted (request {event.request_id})")
    _finish(asyncio.run(_publish_and_wait(settings, event, source, wait)), wait)


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
