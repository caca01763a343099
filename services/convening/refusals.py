"""Refused commands: the errors the state machine raises and the CommandRejected they become."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import Actor
from schemas.errors import RuleViolation, StaleState
from schemas.meetings import CommandRejected
from schemas.referrals import Reason


def reason(code: str, message: str, field: str | None = None) -> Reason:
    """One reason, machine code plus a sentence a person can act on."""
    return Reason(code=code, field=field, message=message)


class CommandRefused(RuleViolation):
    """The actor may not do this, or a business rule forbids it."""

    def __init__(self, *reasons: Reason) -> None:
        super().__init__("; ".join(f"{r.code}: {r.message}" for r in reasons))
        self.reasons: tuple[Reason, ...] = reasons


class CommandStale(StaleState):
    """The command (or event) does not fit the aggregate's current state."""

    def __init__(self, *reasons: Reason) -> None:
        super().__init__("; ".join(f"{r.code}: {r.message}" for r in reasons))
        self.reasons: tuple[Reason, ...] = reasons


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
