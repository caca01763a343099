"""Refused commands: the ``CommandRejected`` that the refusals the state machine raises
(:class:`~services.runtime.decision.CommandRefused`, :class:`~services.runtime.decision.CommandStale`)
become."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import Actor
from schemas.meetings import CommandRejected
from schemas.referrals import Reason
from services.runtime.decision import CommandRefused, CommandStale


def reason(code: str, message: str, field: str | None = None) -> Reason:
    """One reason, machine code plus a sentence a person can act on."""
    return Reason(code=code, field=field, message=message)


def command_rejected(
    error: CommandRefused | CommandStale,
    *,
    command_id: UUID,
    command_type: str,
    target: Literal["situation", "meeting"],
    target_id: UUID,
    now: datetime,
    actor: Actor | None = None,
) -> CommandRejected:
    """The ``CommandRejected`` event for a refused command (``command_id`` is its ``ce_id``),
    naming who issued it, so a refusal of authority is on record with the actor refused."""
    return CommandRejected(
        command_id=command_id,
        command_type=command_type,
        target=target,
        target_id=target_id,
        rejected_at=now,
        reasons=error.reasons,
        actor=actor,
    )
