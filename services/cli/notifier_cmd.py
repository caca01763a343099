"""``commande notice``: acknowledge a notice from a terminal, with the token of its link."""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer

from schemas.errors import ConfigurationError
from services.notifier.acks import AckOutcome, acknowledge
from services.notifier.main import NAME, ack_secret
from services.notifier.settings import NotifierSettings
from services.notifier.tokens import TokenError
from services.runtime import db
from services.runtime.clock import SystemClock

app = typer.Typer(help="Notices: acknowledgements.", no_args_is_help=True)


@app.callback()
def notice() -> None:
    """Notices sent by notifier (``commande notice ack TOKEN``)."""


async def _ack(token: str, settings: NotifierSettings) -> AckOutcome:
    secret = ack_secret(settings)
    pool = await db.create_pool(settings, NAME, min_size=1, max_size=1)
    try:
        return await acknowledge(pool, NAME, secret, token, SystemClock(), via="api")
    except asyncpg.UndefinedTableError:
        raise ConfigurationError("notifier has not run against this database yet") from None
    finally:
        await pool.close()


@app.command()
def ack(
    token: Annotated[str, typer.Argument(help="The token: the last part of the /ack/ link.")],
) -> None:
    """Acknowledge the notice a link belongs to (the same as opening the link).

    Prints ``acknowledged`` the first time and ``already acknowledged`` after; a tampered or
    expired token is an error (exit 2) and records nothing.

    Example: commande notice ack AZSh...Xw.kP3...Q
    """
    try:
        outcome = asyncio.run(_ack(token, NotifierSettings()))
    except TokenError as exc:
        typer.secho(f"error: {exc}; nothing was recorded", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    typer.echo(outcome.value)
    if outcome is AckOutcome.UNKNOWN:
        raise typer.Exit(1)
