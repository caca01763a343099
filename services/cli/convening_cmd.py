"""``commande decide | assign | respond | intervene | conclude | reopen``: the table's commands,
through the gateway.

Each command is sent to the gateway with your sign-in (``commande login``, or ``--token``); the
gateway stamps who you are (your agency and post, from the directory) on the command, convening
decides, and the outcome is printed: accepted with the facts, or refused with every reason.
Exit 0 accepted, 1 refused, 2 no outcome in time or no valid sign-in.

Defaults come from the situation and the directory: the meeting is the situation's current one,
the identity release is the table's setting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, get_args
from uuid import UUID

import typer

from schemas.base import AerDecision, IdentityRelease
from schemas.commands import AssignmentAnswer
from schemas.situations import InterventionOutcome
from services.cli.gateway_client import send
from services.gateway.settings import GatewaySettings

app = typer.Typer(
    help="The table's commands, through the gateway (chair decisions, agency answers)."
    "\n\nExample: commande login d1-chair && commande decide --situation <id> --decision confirmed",
    no_args_is_help=True,
)

Situation = Annotated[UUID, typer.Option("--situation", help="The situation id.")]
Meeting = Annotated[UUID | None, typer.Option(
    "--meeting", help="The meeting; the situation's current meeting by default.")]
Token = Annotated[str | None, typer.Option(
    envvar="COMMANDE_TOKEN", help="An access token to use instead of `commande login`'s.")]
Wait = Annotated[float | None, typer.Option(
    help="Seconds to wait for the outcome (the gateway's setting by default; 0: do not wait).")]


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> str | None:
    if value is not None and value not in allowed:
        raise typer.BadParameter(f"must be one of {', '.join(allowed)}", param_hint=option)
    return value


def _situation(situation: UUID, what: str) -> str:
    return f"/v1/situations/{situation}/{what}"


@app.command()
def decide(
    situation: Situation,
    decision: Annotated[str, typer.Option(help="confirmed, rejected or returned.")],
    meeting: Meeting = None,
    note: Annotated[str | None, typer.Option(help="A de-identified note.")] = None,
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Record the table's Filter 2 decision (the district's chair).

    Example: commande decide --situation 0194a1b2-0000-7000-8000-000000000001 --decision confirmed
    """
    send(GatewaySettings(), _situation(situation, "decision"),
         {"decision": _choice(decision, get_args(AerDecision), "--decision"),
          "meeting_id": str(meeting) if meeting else None, "note": note},
         "RecordAerDecision", token, wait)


@app.command()
def assign(
    situation: Situation,
    lead: Annotated[str, typer.Option(help="The lead agency.")],
    assisting: Annotated[list[str] | None, typer.Option(
        help="An assisting agency (repeat the option for several).")] = None,
    identity_release: Annotated[str | None, typer.Option(
        help="filter_3 or filter_4; the table's setting in the directory by default.")] = None,
    meeting: Meeting = None,
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Name the lead and assisting agencies (Filter 3; the district's chair).

    Example: commande assign --situation 0194a1b2-0000-7000-8000-000000000001
    --lead mental-health-assoc --assisting housing-services
    """
    send(GatewaySettings(), _situation(situation, "assignment"),
         {"lead": lead, "assisting": list(assisting or ()),
          "identity_release": _choice(identity_release, get_args(IdentityRelease),
                                      "--identity-release"),
          "meeting_id": str(meeting) if meeting else None},
         "AssignAgencies", token, wait)


@app.command()
def respond(
    situation: Situation,
    answer: Annotated[str, typer.Option(help=", ".join(get_args(AssignmentAnswer)) + ".")],
    reason: Annotated[str | None, typer.Option(
        help="Why; required for rejected, on-hold, failed and cancelled.")] = None,
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Answer or move your agency's assignment.

    Example: commande respond --situation 0194a1b2-0000-7000-8000-000000000001 --answer accepted
    """
    send(GatewaySettings(), _situation(situation, "response"),
         {"answer": _choice(answer, get_args(AssignmentAnswer), "--answer"), "reason": reason},
         "RespondToAssignment", token, wait)


@app.command()
def intervene(
    situation: Situation,
    outcome: Annotated[str, typer.Option(help=", ".join(get_args(InterventionOutcome)) + ".")],
    first_contact_at: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"],
        help="When first contact was made, with its UTC offset.")] = None,
    service: Annotated[list[str] | None, typer.Option(
        help="A service sector mobilized (repeat for several).")] = None,
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Record your agency's intervention (Filter 4).

    Example: commande intervene --situation 0194a1b2-0000-7000-8000-000000000001
    --outcome accepted_services --first-contact-at 2026-01-06T15:00:00-0500 --service mental_health
    """
    send(GatewaySettings(), _situation(situation, "intervention"),
         {"outcome": _choice(outcome, get_args(InterventionOutcome), "--outcome"),
          "first_contact_at": first_contact_at.isoformat() if first_contact_at else None,
          "services_mobilized": list(service or ())},
         "RecordIntervention", token, wait)


@app.command()
def conclude(
    situation: Situation,
    conclusion: Annotated[str, typer.Option(help="A conclusion code from reference data.")],
    meeting: Annotated[UUID | None, typer.Option("--meeting", help="The meeting, if any.")] = None,
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Conclude a situation with a conclusion code (the district's chair).

    Example: commande conclude --situation 0194a1b2-0000-7000-8000-000000000001
    --conclusion risk_lowered_connected_to_services
    """
    send(GatewaySettings(), _situation(situation, "conclusion"),
         {"conclusion": conclusion, "meeting_id": str(meeting) if meeting else None},
         "ConcludeSituation", token, wait)


@app.command()
def reopen(
    situation: Situation,
    reason: Annotated[str, typer.Option(help="Why, as a code (e.g. risk_rose_again).")],
    token: Token = None,
    wait: Wait = None,
) -> None:
    """Reopen a concluded situation (the district's chair).

    Example: commande reopen --situation 0194a1b2-0000-7000-8000-000000000001 --reason risk_rose_again
    """
    send(GatewaySettings(), _situation(situation, "reopening"), {"reason": reason},
         "ReopenSituation", token, wait)
