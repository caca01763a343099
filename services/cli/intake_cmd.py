"""``commande intake ...``: key pairs (sealing and signing), opening a package, HTTP tokens.

Wire it in ``services/cli/__init__.py`` with ``app.add_typer(intake_cmd.app, name="intake")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey
from pydantic import ValidationError

from schemas.disclosures import DisclosureSealed
from schemas.errors import CommandeError, ConfigurationError
from schemas.reference.calendar import local_date
from schemas.signing import key_id, key_to_b64, verify_key_from_b64
from services.intake import sealing
from services.intake.settings import IntakeSettings
from services.intake.signing import UnsignedPackage, intake_verify_keys, verify_disclosure
from services.runtime.db import Connection

app = typer.Typer(help="Intake: key pairs, sealed disclosures and HTTP ingress tokens.",
                  no_args_is_help=True)
keys_app = typer.Typer(help="Key pairs: sealed boxes (libsodium, X25519) and signatures (Ed25519).",
                       no_args_is_help=True)
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
    out: Annotated[Path, typer.Option(help="Folder for the private key files.")] = Path("."),
) -> None:
    """Make both key pairs of an agency (or of intake), each private key in a file of mode 0600:

    * AGENCY.key, X25519 for sealed boxes: its public half is the directory's ``public_key``
      (for intake: COMMANDE_INTAKE_PRIVATE_KEY is the file's content);
    * AGENCY.signing.key, Ed25519 for signatures: its public half is the directory's
      ``signing_key`` (for intake: ``intake.signing_key``, and COMMANDE_INTAKE_SIGNING_KEY is
      the file's content); a partner signs its referrals with it (``commande submit
      --signing-key``).

    Example: commande intake keys generate --agency housing-services --out keys/
    """
    out.mkdir(parents=True, exist_ok=True)
    path, signing_path = out / f"{agency}.key", out / f"{agency}.signing.key"
    for existing in (path, signing_path):
        if existing.exists():
            raise _fail(f"{existing} exists; move it away first (a key is never overwritten)")
    key = PrivateKey.generate()
    signer = SigningKey.generate()
    _write_secret(path, sealing.private_key_to_b64(key))
    _write_secret(signing_path, key_to_b64(signer))
    directory_name = "intake.signing_key" if agency == sealing.INTAKE_KEY_NAME else "signing_key"
    typer.echo(f"private key: {path} (keep it secret; mode 0600)")
    typer.echo(f"public_key: {sealing.public_key_to_b64(key.public_key)}")
    typer.echo(f"key id: {sealing.key_id(key.public_key)}")
    typer.echo(f"private signing key: {signing_path} (keep it secret; mode 0600)")
    typer.echo(f"{directory_name}: {key_to_b64(signer.verify_key)}")
    typer.echo(f"signing key id: {key_id(signer.verify_key)}")


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text + "\n")


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
        help="The DisclosureSealed JSON (the package a disclosure notice carries); stdin when "
             "omitted.")] = None,
    intake_signing_key: Annotated[str | None, typer.Option(
        envvar="COMMANDE_INTAKE_SIGNING_PUBLIC_KEY",
        help="intake's public signing key (base64); by default the directory's "
             "intake.signing_key and previous keys (COMMANDE_DIRECTORY_PATH).")] = None,
) -> None:
    """Verify intake's signature of a disclosure package, then decrypt it for its recipient and
    print the JSON inside. A package intake did not sign, or whose recipient, fields or
    ciphertext changed after signing, is refused before anything is opened.

    Example: commande intake disclosure open --key keys/housing-services.key disclosure-0194….json
    """
    try:
        private = sealing.private_key_from_b64(key.read_text(encoding="utf-8"), str(key))
    except OSError as exc:
        raise _fail(f"cannot read {key}: {exc.strerror}") from None
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    text = (package.read_text(encoding="utf-8") if package is not None else sys.stdin.read()).strip()
    if not text.startswith("{"):
        raise _fail("give the whole DisclosureSealed package (JSON), not a bare ciphertext: only "
                    "the package carries intake's signature, and an unsigned one is not opened")
    try:
        event = DisclosureSealed.model_validate_json(text)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) or "(document)" for e in exc.errors()})
        raise _fail(f"not a DisclosureSealed package ({', '.join(fields)})") from None
    try:
        signer = verify_disclosure(event, _intake_keys(intake_signing_key))
        plain = sealing.open_sealed(event.ciphertext, private)
        inside = _matching(json.loads(plain), event)
    except CommandeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"verified: signed by intake (signing key id {signer})", err=True)
    typer.echo(json.dumps(inside, indent=2, sort_keys=True))


def _intake_keys(given: str | None) -> tuple[VerifyKey, ...]:
    """intake's public signing keys: ``given``, or the directory's."""
    if given:
        return (verify_key_from_b64(given, "COMMANDE_INTAKE_SIGNING_PUBLIC_KEY"),)
    from directory import load_directory

    return intake_verify_keys(load_directory(IntakeSettings().directory_path))


def _matching(inside: Any, event: DisclosureSealed) -> dict[str, Any]:
    """The opened package, when its own ids agree with the signed audit record."""
    ids = ("situation_id", "disclosure_id", "recipient_agency")
    if not isinstance(inside, dict) or any(
            str(inside.get(name)) != str(getattr(event, name)) for name in ids):
        raise UnsignedPackage("the sealed contents do not belong to this package's audit record "
                              "(situation, disclosure or recipient differ): it is not shown")
    return inside


@contextlib.asynccontextmanager
async def _intake_db() -> AsyncIterator[tuple[IntakeSettings, Connection]]:
    """intake's settings and a connection to its schema (migrated)."""
    from services.intake.main import MIGRATIONS, NAME
    from services.runtime import db
    from services.runtime.service import RUNTIME_MIGRATIONS

    settings = IntakeSettings()
    pool = await db.create_pool(settings, NAME, min_size=1, max_size=1)
    try:
        await db.migrate(pool, NAME, {"runtime": RUNTIME_MIGRATIONS, NAME: MIGRATIONS})
        async with pool.acquire() as conn:
            yield settings, conn
    finally:
        await pool.close()


async def issue_token(agency: str, days: int | None = None) -> tuple[str, datetime]:
    """Issue a bearer token for ``agency`` (stores only its hash); returns it and its expiry."""
    from directory import load_directory
    from services.intake.ingress import new_token, token_hash
    from services.intake.store import PgIntakeStore

    async with _intake_db() as (settings, conn):
        org = load_directory(settings.directory_path).organization(agency)
        now = datetime.now(UTC)
        if org is None or not org.is_active(local_date(now)):
            raise ConfigurationError(
                f"agency {agency!r} is not an active member of the directory "
                f"{settings.directory_path}")
        token = new_token()
        expires = now + timedelta(days=days or settings.intake_token_days)
        await PgIntakeStore(conn).add_token(token_hash(token), agency, now, expires)
        return token, expires


@tokens_app.command("issue")
def tokens_issue(
    agency: Annotated[str, typer.Option(help="Agency id (directory slug).")],
    days: Annotated[int | None, typer.Option(
        min=1, max=730, help="Days it is valid (COMMANDE_INTAKE_TOKEN_DAYS by default).")] = None,
) -> None:
    """Issue an HTTP ingress bearer token for an agency; it is shown once, only its hash is kept.
    It stops working when it expires, is revoked, or the agency leaves the directory.

    Example: commande intake tokens issue --agency housing-services --days 90
    """
    try:
        token, expires = asyncio.run(issue_token(agency, days))
    except CommandeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(token)
    typer.echo(f"expires {expires.isoformat(timespec='seconds')}", err=True)


@tokens_app.command("list")
def tokens_list(agency: Annotated[str | None, typer.Option(
        help="Only this agency's tokens.")] = None) -> None:
    """List the ingress tokens (ids, never the tokens): agency, issued, expires, state.

    Example: commande intake tokens list --agency housing-services
    """
    from services.intake.ports import TokenRecord
    from services.intake.store import PgIntakeStore

    async def listed() -> list[TokenRecord]:
        async with _intake_db() as (_, conn):
            return await PgIntakeStore(conn).list_tokens(agency)

    now = datetime.now(UTC)
    for t in asyncio.run(listed()):
        state = ("revoked" if t.revoked_at is not None
                 else "expired" if t.expires_at <= now else "live")
        typer.echo(f"{t.token_id}  {t.agency_id:<28} issued {t.issued_at:%Y-%m-%d}  "
                   f"expires {t.expires_at:%Y-%m-%d}  {state}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(
        help="The token's id, as `tokens list` shows it.")]) -> None:
    """Revoke one ingress token at once (the next request with it gets 401).

    Example: commande intake tokens revoke 3f9a0c1d2e4b
    """
    from services.intake.store import PgIntakeStore

    if not re.fullmatch(r"[0-9a-fA-F]{12,64}", token_id):
        raise _fail("a token id is at least the 12 hex digits `tokens list` shows")

    async def revoked() -> str | None:
        async with _intake_db() as (_, conn):
            return await PgIntakeStore(conn).revoke_token(token_id, datetime.now(UTC))

    agency = asyncio.run(revoked())
    if agency is None:
        raise _fail(f"no live token with id {token_id}")
    typer.echo(f"revoked {token_id} of {agency}")
