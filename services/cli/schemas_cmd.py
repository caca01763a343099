"""``commande schemas``: the contracts under version control."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The event contracts: JSON Schema and AsyncAPI snapshots.",
                  no_args_is_help=True)

SNAPSHOTS = Path(__file__).resolve().parents[2] / "schemas" / "snapshots"


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="Folder to write into.")] = SNAPSHOTS,
) -> None:
    """Write the JSON Schema of every event and command, the AsyncAPI document and the
    gateway's OpenAPI document.

    Example: commande schemas export && git diff schemas/snapshots
    """
    from schemas import snapshots
    from services.gateway import openapi

    for path in snapshots.export(out):
        typer.echo(str(path))
    typer.echo(str(openapi.export()))  # the gateway's HTTP contract, beside its code
