"""``commande situation show ID``: a situation's de-identified timeline, read from its partition."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

import typer

from services.analytics.projections.timeline import Timeline, fold
from services.runtime.settings import Settings
from services.runtime.wire import situation_events

app = typer.Typer(help="Situations: their de-identified history.", no_args_is_help=True)


async def timeline(settings: Settings, situation_id: UUID) -> Timeline | None:
    """The situation's de-identified timeline (None when it has no events)."""
    found: Timeline | None = None
    for env in await situation_events(settings, situation_id):
        found = fold(found, env)
    return found


@app.command()
def show(situation_id: Annotated[UUID, typer.Argument(help="The situation id (from ReferralAccepted).")]
         ) -> None:
    """Print a situation's timeline: opened, scheduled, decisions, assignments, SLA, conclusion.

    Only de-identified facts: codes, agencies, times.

    Example: commande situation show 01a21822-25c0-7be7-9484-55afc005e5ce
    """
    found = asyncio.run(timeline(Settings(), situation_id))
    if found is None:
        typer.secho(f"no events for situation {situation_id}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"situation {situation_id}")
    for entry in found.entries:
        typer.echo(f"  {entry.at:%Y-%m-%d %H:%M} UTC  {entry.event:<24} {entry.detail}")
