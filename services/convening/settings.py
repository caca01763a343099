"""Convening's settings (environment ``COMMANDE_*``), on top of the runtime's.

A table's cadence, cut-off and agenda lead time are not here: they are per district, in the
directory file, so a coordinator changes them without a release.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from services.runtime.settings import PROJECT_ROOT, Settings


class ConveningSettings(Settings):
    """What convening reads from the environment.

    Env: ``COMMANDE_DIRECTORY_PATH``, ``COMMANDE_MEETING_LENGTH_HOURS``, ``COMMANDE_MEETING_CAPACITY``,
    ``COMMANDE_LEAD_ACCEPTANCE_OVERDUE_HOURS``, ``COMMANDE_SLA_WARNING_HOURS``,
    ``COMMANDE_SLA_BREACH_HOURS``, ``COMMANDE_SITUATIONS_GROUP``, ``COMMANDE_COMMANDS_GROUP``,
    ``COMMANDE_TIMER_POLL_SECONDS``, ``COMMANDE_AGENDA_UPDATE_WINDOW_SECONDS``,
    ``COMMANDE_SITUATIONS_MAX_RECORDS``.
    """

    directory_path: Path = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
    """The directory of organizations and district tables (reloaded when the file changes)."""
    meeting_length_hours: float = Field(default=2.0, gt=0, le=12)
    """How long a table meeting is planned to last (``MeetingScheduled.ends_at``)."""
    meeting_capacity: int = Field(default=100, ge=1, le=100)
    """Situations one meeting takes; the next goes to the following meeting (an agenda carries
    at most 100 items)."""
    lead_acceptance_overdue_hours: float = Field(default=12.0, gt=0)
    """After assignment, the lead agency has this long to accept before ``SlaBreached``."""
    sla_warning_hours: float = Field(default=24.0, gt=0)
    """After AER confirmation without a first contact: ``SlaWarning``."""
    sla_breach_hours: float = Field(default=48.0, gt=0)
    """After AER confirmation without a first contact: ``SlaBreached``."""
    situations_group: str = "convening"
    """Consumer group on ``commande.situations.v1``."""
    commands_group: str = "convening-commands"
    """Consumer group on ``commande.table-actions.v1``."""
    situations_max_records: int = Field(default=500, ge=1, le=10_000)
    """Situation events placed per consumer batch (one transaction, one hold of its tables'
    placement locks, which an urgent situation on one of those tables waits for: docs/adr/0006)."""
    timer_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often the timer loop looks for due timers."""
    agenda_update_window_seconds: float = Field(default=60.0, ge=0, le=86_400)
    """A participant gets at most one agenda update per window after the agenda it last
    received; the changes of the window go out together at its end (at once if the meeting
    starts first). ``0``: every change at once (docs/agendas.md)."""

    @property
    def agenda_update_window(self) -> timedelta:
        """The agenda update window."""
        return timedelta(seconds=self.agenda_update_window_seconds)

    @property
    def meeting_length(self) -> timedelta:
        """The planned length of a meeting."""
        return timedelta(hours=self.meeting_length_hours)
