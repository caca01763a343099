"""``commande event-request submit | schedule | decline | withdraw``: community event requests.

``submit FILE`` posts a request (the ``EventRequestSubmitted`` JSON) to intake's HTTP endpoint
``POST /v1/event-requests``, the public's way in (nobody else writes the submissions topic), and
prints intake's answer: the request id it minted, or every reason.
``schedule``, ``decline`` and ``withdraw`` are the district CMB's follow-up commands, sent
through the gateway with your sign-in (``commande login``; the CMB manager or the Staff Sergeant):
the gateway stamps your agency on the command and waits for intake's answer, the fact or
``EventRequestCommandRefused`` with every reason, which is printed (exit 0 done, 1 refused,
2 no answer or no valid sign-in).
"""

from __future__ import annotations

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

from directory import TIMEZONE
from schemas.errors import ContractError
from schemas.event_requests import EventRequestSubmitted
from services.cli.gateway_client import send
from services.gateway.settings import GatewaySettings
from services.runtime.clock import clock_for
from services.runtime.settings import Settings

EVENT_REQUEST_PATH = "/v1/event-requests"
"""intake's public endpoint (:data:`services.intake.event_requests.ingress.PATH`)."""

app = typer.Typer(
    help="Community event requests: submit one, and the district CMB's follow-up commands."
    "\n\nExample: commande event-request schedule <request id> --date 2026-03-12 "
    "--start 18:30 --officer-role community_safety_officer",
    no_args_is_help=True,
)

RequestId = Annotated[UUID, typer.Argument(help="The request id (from the acknowledgement).")]
Token = Annotated[str | None, typer.Option(
    envvar="COMMANDE_TOKEN", help="An access token to use instead of `commande login`'s.")]
Wait = Annotated[float | None, typer.Option(
    help="Seconds to wait for intake's answer (the gateway's setting by default; 0: do not wait).")]


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
    if status == 202 and answer.get("status") == "awaiting_confirmation":
        return 0, [f"received (request {request_id}): intake checked it for "
                   f"{answer.get('district')}; it waits for the requester to confirm their "
                   f"e-mail address (the link sent to it, by {answer.get('confirm_by')}): only "
                   "then is it sent to the District"]
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
    notes: Annotated[str | None, typer.Option(
        help="A note for the requester (no personal details).")] = None,
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Schedule a request (the district's CMB manager).

    Example: commande event-request schedule 0194a1b2-0000-7000-8000-000000000007
    --date 2026-03-12 --start 18:30 --officer-role community_safety_officer
    """
    try:
        at = time.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter("use HH:MM", param_hint="--start") from None
    send(GatewaySettings(), f"/v1/event-requests/{request_id}/schedule",
         {"date": date_.date().isoformat(), "start": at.strftime("%H:%M"),
          "officer_role": officer_role, "notes": notes}, "ScheduleEventRequest", token, wait)


@app.command()
def decline(
    request_id: RequestId,
    reason: Annotated[str, typer.Option(
        help="A decline reason code (event_decline_reasons.yaml): no_capacity, "
             "date_unavailable, outside_mandate, duplicate, ...")],
    note: Annotated[str | None, typer.Option(
        help="A sentence for the requester (no personal details).")] = None,
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Decline a request (the district's CMB manager).

    Example: commande event-request decline 0194a1b2-0000-7000-8000-000000000007
    --reason no_capacity --note "No officer is free that week."
    """
    send(GatewaySettings(), f"/v1/event-requests/{request_id}/decline",
         {"reason": reason, "note": note}, "DeclineEventRequest", token, wait)


@app.command()
def withdraw(
    request_id: RequestId,
    reason: Annotated[str, typer.Option(
        help="A withdrawal reason code (event_withdrawal_reasons.yaml): no_longer_needed, "
             "submitted_in_error, ...")],
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Record that the requester withdrew a request (acknowledged or scheduled).

    Example: commande event-request withdraw 0194a1b2-0000-7000-8000-000000000007
    --reason no_longer_needed
    """
    send(GatewaySettings(), f"/v1/event-requests/{request_id}/withdrawal",
         {"reason": reason}, "WithdrawEventRequest", token, wait)
