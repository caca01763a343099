"""``commande submit FILE``: a partner agency submits a referral and waits for the answer.

The referral is sealed (its subject, to intake's public key), signed with the agency's signing
key (Ed25519, ``ce_signature``), published as ``/partners/<agency_id>`` connected as the Kafka
principal ``partner-<agency_id>``, and answered by intake. Only intake's answer counts: a
``ReferralAccepted`` or ``ReferralRejected`` under the referral's key, with ``ce_source``
``/commande/intake`` and ``ce_causationid`` the ``ce_id`` just published.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from nacl.signing import SigningKey
from pydantic import ValidationError

from schemas.access import partner
from schemas.base import Message
from schemas.envelope import Envelope
from schemas.errors import ConfigurationError
from schemas.referrals import (
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
    withheld_ref,
)
from schemas.topics import REFERRAL_STATUS
from services.intake.provenance import INTAKE, partner_source
from services.intake.signing import development_signing_key, signing_key_setting
from services.runtime.events import emit_signed
from services.runtime.settings import Settings
from services.runtime.wire import Watch, send


def _intake_public_key_b64() -> str:
    """Intake's public key: ``COMMANDE_INTAKE_PUBLIC_KEY``; in development only, the synthetic
    test key. A partner never holds intake's private key, so nothing is derived from it."""
    given = os.environ.get("COMMANDE_INTAKE_PUBLIC_KEY")
    if given:
        return given
    if not Settings().development:
        raise ConfigurationError(
            "COMMANDE_INTAKE_PUBLIC_KEY is not set: give intake's public key (base64, from "
            "`commande intake keys public` run by intake's operators) to seal the subject")
    from services.intake import sealing

    return sealing.public_key_to_b64(sealing.development_private_key(sealing.INTAKE_KEY_NAME).public_key)


def load_referral(path: Path, *, ref: str | None, seal: bool) -> ReferralSubmitted:
    """The referral in ``path`` (JSON), with ``submitted_at`` now if absent and the subject sealed."""
    data: dict[str, Any] = json.loads(path.read_text())
    data.setdefault("submitted_at", datetime.now(UTC).isoformat())
    if ref is not None:
        data["referral_ref"] = ref
    referral = ReferralSubmitted.model_validate_json(json.dumps(data))
    if seal and referral.subject is not None:
        from services.intake import sealing

        sealed = sealing.seal_subject(referral.subject,
                                      sealing.public_key_from_b64(_intake_public_key_b64()))
        referral = referral.model_copy(update={"subject": None, "sealed_subject": sealed})
        referral = ReferralSubmitted.model_validate(referral.model_dump())
    return referral


def signing_key_for(agency_id: str, key_file: Path | None, settings: Settings) -> SigningKey:
    """The agency's signing key: the key file, or in development only the synthetic test key
    derived from the agency id.

    Raises:
        ConfigurationError: the file cannot be read or holds no key, or there is no file
            outside development.
    """
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the signing key {key_file}: {exc.strerror}"
                                     ) from None
        return signing_key_setting(text, f"the signing key {key_file}")
    if not settings.development:
        raise ConfigurationError(
            "no signing key: pass --signing-key FILE (or set COMMANDE_SIGNING_KEY_FILE) with your "
            f"agency's Ed25519 key; `commande intake keys generate --agency {agency_id}` makes "
            "one, and its signing_key goes in the directory")
    typer.echo(f"using the synthetic TEST signing key of {agency_id} (development only)",
               err=True)
    return development_signing_key(agency_id)


def is_answer(env: Envelope[Message], referral: ReferralSubmitted, sent_id: str) -> bool:
    """Whether ``env`` is intake's answer to the record ``sent_id`` carrying ``referral``: the
    same key, from intake, caused by that record. Anything else (a forged answer, an answer to
    another submission of the same reference) is not."""
    event = env.event
    keys = {referral.key(),  # or the withheld form, when the reference itself was refused
            f"{referral.agency_id}/{withheld_ref(referral.agency_id, referral.referral_ref)}"}
    return (isinstance(event, ReferralAccepted | ReferralRejected)
            and event.key() in keys and env.source == INTAKE and env.causationid == sent_id)


async def submit_and_wait(settings: Settings, referral: ReferralSubmitted, key: SigningKey,
                          within: float) -> Envelope[Message] | None:
    """Publish ``referral`` signed with ``key`` and return intake's answer (accepted or
    rejected), or None."""
    record = emit_signed(referral, source=partner_source(referral.agency_id), key=key)
    sent_id = dict(record.headers)["ce_id"].decode()
    principal = partner(referral.agency_id).principal
    async with Watch(settings, principal, REFERRAL_STATUS.name) as watch:
        await send(settings, principal, [record])
        return await watch.first(lambda env: is_answer(env, referral, sent_id), within)


def submit(
    file: Annotated[Path, typer.Argument(help="The referral as JSON (the ReferralSubmitted contract).",
                                         exists=True, dir_okay=False)],
    ref: Annotated[str | None, typer.Option(help="Use this referral_ref instead of the file's.")] = None,
    seal: Annotated[bool, typer.Option(help="Seal the identified block to intake's public key, "
                                            "so identity never crosses Kafka in clear.")] = True,
    wait: Annotated[float, typer.Option(help="Seconds to wait for intake's answer.")] = 30.0,
    signing_key: Annotated[Path | None, typer.Option(
        envvar="COMMANDE_SIGNING_KEY_FILE", dir_okay=False,
        help="Your agency's Ed25519 signing key file (`commande intake keys generate`); in "
             "development only, the synthetic test key of the agency when omitted.")] = None,
) -> None:
    """Submit a referral, wait for intake's answer, print the situation id or every reason.

    Exit 0 when accepted, 1 when rejected, 2 when the file is not a valid referral or no answer came.

    Example: commande submit deploy/samples/referrals/milton-individual.json --ref HSG-2026-0042
    --signing-key keys/housing-services.signing.key
    """
    try:
        referral = load_referral(file, ref=ref, seal=seal)
    except ValidationError as exc:
        typer.secho(f"{file} is not a valid referral:", fg=typer.colors.RED, err=True)
        for err in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "(document)"
            typer.echo(f"  {where}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    except ConfigurationError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    settings = Settings()
    try:
        key = signing_key_for(referral.agency_id, signing_key, settings)
    except ConfigurationError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    answer = asyncio.run(submit_and_wait(settings, referral, key, wait))
    if answer is None:
        typer.secho(f"no answer from intake within {wait:.0f}s: is it running? "
                    "(`commande run intake` or `commande run all`)", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    event = answer.event
    if isinstance(event, ReferralAccepted):
        note = " (a repeat: the situation already open)" if event.duplicate else ""
        typer.echo(f"accepted: {referral.agency_id}/{referral.referral_ref} -> situation "
                   f"{event.situation_id} at {event.district}{note}")
        return
    assert isinstance(event, ReferralRejected)
    typer.echo(f"rejected: {referral.agency_id}/{referral.referral_ref}, "
               f"{len(event.reasons)} reason(s):")
    for reason in event.reasons:
        typer.echo(f"  - {reason.code} at {reason.field}: {reason.message}")
    raise typer.Exit(1)
