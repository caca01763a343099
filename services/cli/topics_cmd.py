"""``commande topics apply``: the registry's topics on a cluster, as its operator."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from services.runtime.settings import Settings
from services.runtime.topics import reconcile

PRINCIPAL = "operator"

app = typer.Typer(help="The registry's topics on a Kafka cluster (schemas/topics.py).",
                  no_args_is_help=True)


@app.callback()
def topics() -> None:
    """Topics: create what is missing, report (and fix) what drifted from the registry."""


@app.command()
def apply(fix: Annotated[bool, typer.Option(
        help="Set drifted retention, cleanup policy and min.insync.replicas back to the "
        "registry's.")] = False) -> None:
    """Create the registry's missing topics and report every difference of the others:
    retention, cleanup policy and min.insync.replicas (set back with --fix), and fewer
    partitions or replicas than the registry's (reported only). Exit 1 while drift remains.

    Connects as the operator principal (COMMANDE_KAFKA_USERNAME, COMMANDE_KAFKA_PASSWORD_FILE);
    replicas and min.insync.replicas come from COMMANDE_KAFKA_REPLICATION_FACTOR and
    COMMANDE_KAFKA_MIN_INSYNC_REPLICAS.

    Example: commande topics apply            (report)
             commande topics apply --fix      (set configurations back)
    """
    settings = Settings()
    created, found = asyncio.run(reconcile(settings, PRINCIPAL, fix=fix))
    for name in created:
        typer.echo(f"created {name} (replicas {settings.replication_factor}, "
                   f"min.insync.replicas {settings.min_insync_replicas})")
    for d in found:
        state = ("fixed" if fix else "run with --fix") if d.fixable else "reported only"
        typer.echo(f"drift {d.topic}: {d.setting} is {d.have}, the registry says {d.want} "
                   f"({state})")
    if not created and not found:
        typer.echo("every topic matches the registry")
    if any(not (fix and d.fixable) for d in found):
        raise typer.Exit(1)
