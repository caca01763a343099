"""``commande decide | assign | respond | intervene | conclude``: a table chair's or an
agency's commands, published to convening.

Each command is published on ``commande.table-actions.v1`` as a CloudEvent (source
``/commande/cli``); convening answers with the fact on ``commande.situations.v1`` or a
``CommandRejected`` on ``commande.meetings.v1``. The actor is given as options: authenticating
it is the transport's job (see ``services/convening/README.md``); this tool only states it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, get_args
from uuid import UUID

import typer
from pydantic import ValidationError

from schemas.base import Actor, ActorRole, AerDecision, Command, IdentityRelease
from schemas.commands import (
    AssignAgencies,
    AssignmentAnswer,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    RespondToAssignment,
)
from schemas.errors import ContractError
from schemas.situations import InterventionOutcome
from services.cli.wire import publish
from services.runtime.clock import clock_for
from services.runtime.settings import Settings

SOURCE = "/commande/cli"

app = typer.Typer(
    help="Commands to convening on commande.table-actions.v1 (chair decisions, agency answers)."
    "\n\nExample: commande decide --situation <id> --meeting <id> "
    "--decision confirmed --actor-agency hrps-cmb-d1",
    no_args_is_help=True,
)

Situation = Annotated[UUID, typer.Option("--situation", help="The situation id.")]
Meeting = Annotated[UUID, typer.Option("--meeting", help="The meeting id.")]
ActorAgency = Annotated[str, typer.Option("--actor-agency",
                                          help="The agency issuing the command (its slug).")]


ActorRoleOption = Annotated[str, typer.Option(
    "--actor-role", help=f"The actor's role: {', '.join(get_args(ActorRole))}.")]


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"must be one of {', '.join(allowed)}", param_hint=option)
    return value


def _publish(build: type[Command], **fields: Any) -> None:
    settings = Settings()
    try:
        command = build(issued_at=clock_for(settings.clock_offset_file).now(), **fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ContractError(f"invalid {build.__name__}: {problems}") from None
    [ce_id] = asyncio.run(publish(settings, "gateway", [command], source=SOURCE))
    typer.echo(f"published {build.__name__} {ce_id} (key {command.key()})")


@app.command()
def decide(
    situation: Situation,
    meeting: Meeting,
    decision: Annotated[str, typer.Option(help="confirmed, rejected or returned.")],
    actor_agency: ActorAgency,
    actor_role: ActorRoleOption = "table_chair",
    note: Annotated[str | None, typer.Option(help="A de-identified note.")] = None,
) -> None:
    """Record the table's Filter 2 decision (chair only).

    Example: commande decide --situation 0194a1b2-0000-7000-8000-000000000001
    --meeting 0194a1b2-0000-7000-8000-000000000002 --decision confirmed --actor-agency hrps-cmb-d1
    """
    _publish(RecordAerDecision, situation_id=situation, meeting_id=meeting,
             decision=_choice(decision, get_args(AerDecision), "--decision"), note=note,
             actor=Actor(agency_id=actor_agency, role=_choice(actor_role, get_args(ActorRole),
                                                              "--actor-role")))


@app.command()
def assign(
    situation: Situation,
    meeting: Meeting,
    lead: Annotated[str, typer.Option(help="The lead agency.")],
    actor_agency: ActorAgency,
    assisting: Annotated[list[str] | None, typer.Option(
        help="An assisting agency (repeat the option for several).")] = None,
    identity_release: Annotated[str, typer.Option(
        help="filter_3 or filter_4, as the table's setting says.")] = "filter_4",
    actor_role: ActorRoleOption = "table_chair",
) -> None:
    """Name the lead and assisting agencies (Filter 3; chair only).

    Example: commande assign --situation 0194a1b2-0000-7000-8000-000000000001
    --meeting 0194a1b2-0000-7000-8000-000000000002 --lead mental-health-assoc
    --assisting housing-services --identity-release filter_3 --actor-agency hrps-cmb-d1
    """
    _publish(AssignAgencies, situation_id=situation, meeting_id=meeting, lead=lead,
             assisting=tuple(assisting or ()),
             identity_release=_choice(identity_release, get_args(IdentityRelease),
                                      "--identity-release"),
             actor=Actor(agency_id=actor_agency, role=_choice(actor_role, get_args(ActorRole),
                                                              "--actor-role")))


@app.command()
def respond(
    situation: Situation,
    answer: Annotated[str, typer.Option(help=", ".join(get_args(AssignmentAnswer)) + ".")],
    actor_agency: ActorAgency,
    actor_role: ActorRoleOption = "lead_agency",
    reason: Annotated[str | None, typer.Option(
        help="Why; required for rejected, on-hold, failed and cancelled.")] = None,
) -> None:
    """Answer or move your agency's assignment (the actor's own agency).

    Example: commande respond --situation 0194a1b2-0000-7000-8000-000000000001
    --answer accepted --actor-agency mental-health-assoc
    """
    _publish(RespondToAssignment, situation_id=situation, agency_id=actor_agency,
             answer=_choice(answer, get_args(AssignmentAnswer), "--answer"), reason=reason,
             actor=Actor(agency_id=actor_agency, role=_choice(actor_role, get_args(ActorRole),
                                                              "--actor-role")))


@app.command()
def intervene(
    situation: Situation,
    outcome: Annotated[str, typer.Option(help=", ".join(get_args(InterventionOutcome)) + ".")],
    actor_agency: ActorAgency,
    first_contact_at: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"],
        help="When first contact was made, with its UTC offset.")] = None,
    service: Annotated[list[str] | None, typer.Option(
        help="A service sector mobilized (repeat for several).")] = None,
    actor_role: ActorRoleOption = "lead_agency",
) -> None:
    """Record the intervention's outcome (Filter 4; an assigned agency, for itself).

    Example: commande intervene --situation 0194a1b2-0000-7000-8000-000000000001
    --outcome accepted_services --first-contact-at 2026-01-06T15:00:00-0500
    --service mental_health --actor-agency mental-health-assoc
    """
    _publish(RecordIntervention, situation_id=situation, agency_id=actor_agency,
             outcome=_choice(outcome, get_args(InterventionOutcome), "--outcome"),
             first_contact_at=first_contact_at, services_mobilized=tuple(service or ()),
             actor=Actor(agency_id=actor_agency, role=_choice(actor_role, get_args(ActorRole),
                                                              "--actor-role")))


@app.command()
def conclude(
    situation: Situation,
    conclusion: Annotated[str, typer.Option(help="A conclusion code from reference data.")],
    actor_agency: ActorAgency,
    meeting: Annotated[UUID | None, typer.Option("--meeting", help="The meeting, if any.")] = None,
    actor_role: ActorRoleOption = "table_chair",
) -> None:
    """Conclude a situation with a conclusion code (chair only).

    Example: commande conclude --situation 0194a1b2-0000-7000-8000-000000000001
    --conclusion risk_lowered_connected_to_services --actor-agency hrps-cmb-d1
    """
    _publish(ConcludeSituation, situation_id=situation, conclusion=conclusion, meeting_id=meeting,
             actor=Actor(agency_id=actor_agency, role=_choice(actor_role, get_args(ActorRole),
                                                              "--actor-role")))
