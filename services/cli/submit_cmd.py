"""``commande submit FILE``: a partner agency submits a referral and waits for the answer."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from schemas.access import partner
from schemas.base import Message
from schemas.envelope import Envelope
from schemas.referrals import ReferralAccepted, ReferralRejected, ReferralSubmitted
from schemas.topics import REFERRAL_STATUS
from services.cli.wire import Watch, publish
from services.runtime.settings import Settings


def _intake_public_key_b64() -> str:
    """Intake's public key: ``COMMANDE_INTAKE_PUBLIC_KEY``, or the development key on the local stack."""
    given = os.environ.get("COMMANDE_INTAKE_PUBLIC_KEY")
    if given:
        return given
    from services.intake import sealing
    from services.intake.main import intake_private_key
    from services.intake.settings import IntakeSettings

    return sealing.public_key_to_b64(intake_private_key(IntakeSettings()).public_key)


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


async def submit_and_wait(settings: Settings, referral: ReferralSubmitted,
                          within: float) -> Envelope[Message] | None:
    """Publish ``referral`` and return intake's answer (accepted or rejected), or None."""
    key = referral.key()

    def answers(env: Envelope[Message]) -> bool:
        event = env.event
        return isinstance(event, ReferralAccepted | ReferralRejected) and event.key() == key

    principal = partner(referral.agency_id).principal
    async with Watch(settings, principal, REFERRAL_STATUS.name) as watch:
        await publish(settings, principal, [referral], source=f"/partners/{referral.agency_id}")
        return await watch.first(answers, within)


def submit(
    file: Annotated[Path, typer.Argument(help="The referral as JSON (the ReferralSubmitted contract).",
                                         exists=True, dir_okay=False)],
    ref: Annotated[str | None, typer.Option(help="Use this referral_ref instead of the file's.")] = None,
    seal: Annotated[bool, typer.Option(help="Seal the identified block to intake's public key, "
                                            "so identity never crosses Kafka in clear.")] = True,
    wait: Annotated[float, typer.Option(help="Seconds to wait for intake's answer.")] = 30.0,
) -> None:
    """Submit a referral, wait for intake's answer, print the situation id or every reason.

    Exit 0 when accepted, 1 when rejected, 2 when the file is not a valid referral or no answer came.

    Example: commande submit deploy/samples/referrals/milton-individual.json --ref HSG-2026-0042
    """
    try:
        referral = load_referral(file, ref=ref, seal=seal)
    except ValidationError as exc:
        typer.secho(f"{file} is not a valid referral:", fg=typer.colors.RED, err=True)
        for err in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "(document)"
            typer.echo(f"  {where}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    answer = asyncio.run(submit_and_wait(Settings(), referral, wait))
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
