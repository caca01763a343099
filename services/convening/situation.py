"""The situation state machine (pure): ``decide(state, command, now, table) -> Decided``, ``evolve``.

::

    (none) ─opened→ opened ─scheduled→ scheduled ─AER decision→ confirmed ─assigned→ assigned
                       ▲                  │  └→ rejected ─┐               intervention ◄─┘
                       │                  └──→ returned ──┤                    │
                       └──── reopened ─── concluded ◄─────┴────────────────────┘

Filter 2 (the AER decision) is taken at the meeting the situation is scheduled on, once it has
started: that is when it is *presented*. A rejected or returned situation is concluded at once with
``rejected_not_aer`` / ``returned_to_originator``. Each assigned agency's task follows
:mod:`services.convening.tasks`. Who may do what:

* the district's table chair (its CMB, acting as ``table_chair``) records AER decisions,
  assignments, conclusions and reopenings;
* an assigned agency, acting for itself, answers its own assignment and records interventions.

A command that breaks an authorisation or business rule raises :class:`CommandRefused`
(a :class:`~schemas.errors.RuleViolation`); one that does not fit the current state raises
:class:`CommandStale` (a :class:`~schemas.errors.StaleState`); both carry every reason found.
"""

from schemas.commands import ReopenSituation
from services.convening.decide import (
    NO_TABLE,
    SituationCommand,
    TableContext,
    decide,
    decide_schedule,
    table_context,
)
from services.convening.evolve import (
    CONTACT_OUTCOMES,
    FILTER2_CONCLUSIONS,
    INITIAL,
    SituationState,
    Status,
    Task,
    evolve,
    fold,
)

__all__ = [
    "CONTACT_OUTCOMES",
    "FILTER2_CONCLUSIONS",
    "INITIAL",
    "NO_TABLE",
    "ReopenSituation",
    "SituationCommand",
    "SituationState",
    "Status",
    "TableContext",
    "Task",
    "decide",
    "decide_schedule",
    "evolve",
    "fold",
    "table_context",
]
