"""The ``commande`` command: one entry point for operators, partners, chairs and analysts."""

from __future__ import annotations

import sys

import typer

from schemas.errors import CommandeError
from services.cli import (
    analytics_cmd,
    convening_cmd,
    event_request_cmd,
    intake_cmd,
    login_cmd,
    notifier_cmd,
    run_cmd,
    schemas_cmd,
    situation_cmd,
    stack_cmd,
    submit_cmd,
    topics_cmd,
)

app = typer.Typer(
    name="commande",
    help="commande: the backend of Halton's COMMANDE Tables (situation tables).\n\n"
    "Example: commande stack up && commande stack status",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_cmd.app, name="stack")
app.add_typer(schemas_cmd.app, name="schemas")
app.add_typer(topics_cmd.app, name="topics")
app.add_typer(intake_cmd.app, name="intake")
app.add_typer(situation_cmd.app, name="situation")
app.add_typer(notifier_cmd.app, name="notice")
app.add_typer(event_request_cmd.app, name="event-request")
app.command(name="run")(run_cmd.run)
app.command(name="submit")(submit_cmd.submit)
app.command(name="login")(login_cmd.login)
app.command(name="logout")(login_cmd.logout)
for _name in ("decide", "assign", "respond", "intervene", "conclude", "reopen"):
    app.command(name=_name)(getattr(convening_cmd, _name))
app.command(name="replay")(analytics_cmd.replay)
app.add_typer(analytics_cmd.simulate_app, name="simulate")


def main() -> None:
    """Console-script entry point: a :class:`CommandeError` ends as one clear line and exit 2."""
    try:
        app()
    except CommandeError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
