"""``commande stack``: the embedded local stack (Kafka, PostgreSQL, SMTP sink)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Annotated

import typer

from deploy.local import stack
from deploy.local.smtp_sink import read_messages
from services.runtime.production import SAMPLE_DIRECTORY
from services.runtime.settings import Settings

app = typer.Typer(
    help="The embedded default stack: a real Kafka broker, PostgreSQL and an SMTP sink on "
    "127.0.0.1.\n\nExample: commande stack up",
    no_args_is_help=True,
)


@app.command()
def up() -> None:
    """Start PostgreSQL, Kafka and the SMTP sink and create the topics; harmless when running.

    Example: commande stack up
    """
    for line in stack.up(Settings()):
        typer.echo(line)


@app.command()
def down() -> None:
    """Stop what `stack up` started, and nothing else.

    Example: commande stack down
    """
    for line in stack.down(Settings()):
        typer.echo(line)


@app.command()
def status() -> None:
    """Show what runs where.

    Example: commande stack status
    """
    for line in stack.status(Settings()):
        typer.echo(line)


@app.command()
def acls(
    directory: Annotated[Path, typer.Option(
        help="The directory whose agencies get a partner principal.")] = SAMPLE_DIRECTORY,
    bootstrap: Annotated[str, typer.Option(help="The cluster, as the admin reaches it.")] = "<bootstrap>",
    config: Annotated[str, typer.Option(
        help="The admin's client properties file (SASL_SSL, its credentials).")] = "<admin.properties>",
) -> None:
    """Print the ACL table (schemas/access.py) as kafka-acls.sh commands for a cluster's admin.

    One line per principal and resource; production rows only (the embedded stack also has a
    development-only simulator). The embedded stack applies the same table itself.

    Example: commande stack acls --directory /etc/commande/directory.yaml
             --bootstrap kafka-1.example.org:9093 --config admin.properties
    """
    from directory.loader import load_directory
    from schemas.access import acl_commands, table

    agencies = [org.agency_id for org in load_directory(directory).organizations]
    for line in acl_commands(table(agencies, development=False), bootstrap, config):
        typer.echo(line)


@app.command()
def mail(
    number: Annotated[int | None, typer.Argument(help="Show message N in full (1 = oldest).")] = None,
    to: Annotated[str | None, typer.Option(help="Only messages delivered to this address.")] = None,
) -> None:
    """List the e-mails the SMTP sink received, or show one in full.

    Example: commande stack mail            (list)
             commande stack mail 3          (show the third)
             commande stack mail --to staff-sergeant.d1@hrps.example.org
    """
    messages = read_messages(Settings().mail_dir)
    numbered = list(enumerate(messages, start=1))
    if to is not None:
        numbered = [(n, m) for n, m in numbered if to.lower() in str(m["X-Envelope-To"]).lower()]
    if number is not None:
        match = [m for n, m in numbered if n == number]
        if not match:
            raise typer.BadParameter(f"no message {number}; there are {len(messages)}")
        typer.echo(_render(match[0]))
        return
    if not numbered:
        typer.echo("no messages")
    for n, msg in numbered:
        typer.echo(f"{n:4}  {msg['Date']}  to {msg['X-Envelope-To']}  {msg['Subject']}")


def _render(msg: EmailMessage) -> str:
    head = "\n".join(f"{k}: {v}" for k, v in msg.items())
    body = msg.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    attachments = [p.get_filename() for p in msg.iter_attachments()]
    extra = f"\n[attachments: {', '.join(str(a) for a in attachments)}]" if attachments else ""
    return f"{head}\n\n{text}{extra}"
