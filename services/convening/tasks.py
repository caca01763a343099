"""An agency's part in a situation: the FHIR referral task states (domain.md §6), pure.

* ``requested → accepted | rejected | cancelled``;
* ``accepted → in-progress | on-hold | completed | failed | cancelled``;
* ``in-progress → on-hold | completed | failed | cancelled``;
* ``on-hold → in-progress | failed | cancelled``;

``rejected``, ``cancelled``, ``completed``, ``failed`` are terminal; ``entered-in-error`` may follow
any state but itself. A reason is required for rejected, cancelled, on-hold and failed.
"""

from __future__ import annotations

from schemas.base import TASK_STATES_NEEDING_REASON, TaskState

TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"accepted", "rejected", "cancelled", "entered-in-error"}),
    "accepted": frozenset({"in-progress", "on-hold", "completed", "failed", "cancelled", "entered-in-error"}),
    "in-progress": frozenset({"on-hold", "completed", "failed", "cancelled", "entered-in-error"}),
    "on-hold": frozenset({"in-progress", "failed", "cancelled", "entered-in-error"}),
    "rejected": frozenset({"entered-in-error"}),
    "cancelled": frozenset({"entered-in-error"}),
    "completed": frozenset({"entered-in-error"}),
    "failed": frozenset({"entered-in-error"}),
    "entered-in-error": frozenset(),
}

TERMINAL: frozenset[str] = frozenset({"rejected", "cancelled", "completed", "failed", "entered-in-error"})
"""States after which the agency has nothing left to do."""

WORKING: frozenset[str] = frozenset({"accepted", "in-progress"})
"""States in which an agency may record an intervention."""

NEEDS_REASON: frozenset[str] = frozenset(TASK_STATES_NEEDING_REASON)


def can_move(current: TaskState, target: TaskState) -> bool:
    """Whether a task in ``current`` may move to ``target``."""
    return target in TRANSITIONS[current]


def is_open(state: TaskState) -> bool:
    """Whether the task still expects something of its agency."""
    return state not in TERMINAL
