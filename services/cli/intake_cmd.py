"""``commande intake ...``: key pairs for sealed disclosures, opening a package, HTTP tokens.

Wire it in ``services/cli/__init__.py`` with ``app.add_typer(intake_cmd.app, name="intake")``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from nacl.public import PrivateKey

from schemas.errors import CommandeError, ConfigurationError
from services.intake import sealing

app = typer.Typer(help="Intake: key pairs, sealed disclosures and HTTP ingress tokens.",
                  no_args_is_help=True)
keys_app = typer.Typer(help="Key pairs for sealed boxes (libsodium, X25519).", no_args_is_help=True)
disclosure_app = typer.Typer(help="Sealed Filter 3/4 disclosure packages.", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens of the HTTP ingress.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(disclosure_app, name="disclosure")
app.add_typer(tokens_app, name="tokens")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


@keys_app.command("generate")
def keys_generate(
    agency: Annotated[str, typer.Option(help="Agency id (directory slug), or 'intake'.")],
    out: Annotated[Path, typer.Option(help="Folder for the private key file.")] = Path("."),
) -> None:
    """Make a key pair: the private key goes to AGENCY.key (mode 0600), the public key is printed
    for the directory's ``public_key`` (or COMMANDE_INTAKE_PRIVATE_KEY for intake's own pair)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{agency}.key"
    if path.exists():
        raise _fail(f"{path} exists; move it away first (a key is never overwritten)")
    key = PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(sealing.private_key_to_b64(key) + "\n")
    typer.echo(f"private key: {path} (keep it secret; mode 0600)")
    typer.echo(f"public_key: {sealing.public_key_to_b64(key.public_key)}")
    typer.echo(f"key id: {sealing.key_id(key.public_key)}")


@keys_app.command("public")
def keys_public(key: Annotated[Path, typer.Option(help="A private key file.")]) -> None:
    """Print the public key and key id of a private key file (e.g. intake's, for partners who
    seal ``sealed_subject``)."""
    try:
        private = sealing.private_key_from_b64(key.read_text(encoding="utf-8"), str(key))
    except OSError as exc:
        raise _fail(f"cannot read {key}: {exc.strerror}") from None
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"public_key: {sealing.public_key_to_b64(private.public_key)}")
    typer.echo(f"key id: {sealing.key_id(private.public_key)}")


@disclosure_app.command("open")
def disclosure_open(
    key: Annotated[Path, typer.Option(help="The recipient agency's private key file.")],
    package: Annotated[Path | None, typer.Argument(
        help="A DisclosureSealed JSON (or its base64 ciphertext); stdin when omitted.")] = None,
) -> None:
    """Decrypt a sealed disclosure package for its recipient and print the JSON inside."""
    try:
        private = sealing.private_key_from_b64(key.read_text(encoding="utf-8"), str(key))
    except OSError as exc:
        raise _fail(f"cannot read {key}: {exc.strerror}") from None
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    text = (package.read_text(encoding="utf-8") if package is not None else sys.stdin.read()).strip()
    ciphertext = text
    if text.startswith("{"):
        try:
            ciphertext = json.loads(text)["ciphertext"]
        except (ValueError, KeyError, TypeError):
            raise _fail("the package is JSON without a 'ciphertext' field") from None
    try:
        plain = sealing.open_sealed(ciphertext, private)
    except CommandeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps(json.loads(plain), indent=2, sort_keys=True))


async def issue_token(agency: str) -> str:
    """Issue a bearer token for ``agency`` (stores only its hash); returns the token."""
    from datetime import UTC, datetime

    from services.directory import load_directory
    from services.intake import store
    from services.intake.ingress import new_token, token_hash
    from services.intake.main import MIGRATIONS, NAME
    from services.intake.settings import IntakeSettings
    from services.runtime import db
    from services.runtime.service import RUNTIME_MIGRATIONS

    settings = IntakeSettings()
    if load_directory(settings.directory_path).organization(agency) is None:
        raise ConfigurationError(f"agency {agency!r} is not in the directory {settings.directory_path}")
    pool = await db.create_pool(settings, NAME, min_size=1, max_size=1)
    try:
        await db.migrate(pool, NAME, {"runtime": RUNTIME_MIGRATIONS, NAME: MIGRATIONS})
        token = new_token()
        async with pool.acquire() as conn:
            await store.add_token(conn, token_hash(token), agency, datetime.now(UTC))
        return token
    finally:
        await pool.close()


@tokens_app.command("issue")
def tokens_issue(agency: Annotated[str, typer.Option(help="Agency id (directory slug).")]) -> None:
    """Issue an HTTP ingress bearer token for an agency; it is shown once, only its hash is kept."""
    try:
        token = asyncio.run(issue_token(agency))
    except CommandeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(token)
