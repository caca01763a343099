"""intake's retention on the runtime's durable timers (:mod:`services.runtime.timers`): what a
due retention timer of a situation does, read from the situation's current state.

A situation has at most two timers (:mod:`services.intake.retention`): ``identity_inactive``,
set at its opening ``inactive_days`` on (a reopening looks at it again at once), and
``identity_retention``, set at its conclusion to its ``purge_after``. Activity does not move the
inactivity timer: when it falls due, :func:`fires` reads the last activity and looks again
``inactive_days`` after it if there was activity since. A due timer destroys the identity (vault
row, fingerprint) and writes an ``IdentityPurged`` to the outbox in the timer's transaction, so
it happens once even with several instances; a situation purged, concluded or reopened in the
meantime cancels it. The situation is locked without waiting (``NOWAIT``): a handler holding it
moves its timers, and the timer is looked at again at the next poll.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from services.intake import retention
from services.intake.ports import IntakeStore
from services.intake.store import PgIntakeStore
from services.runtime import timers as runtime
from services.runtime.db import Connection
from services.runtime.logging import get_logger

log = get_logger("commande.intake")


def fires(inactive_days: int, stores: Callable[[Connection], IntakeStore] = PgIntakeStore
          ) -> dict[str, runtime.Fire]:
    """The fire of each retention timer kind (for :func:`services.runtime.timers.route`)."""

    async def fire(conn: Connection, timer: runtime.Timer, now: datetime) -> runtime.Fired:
        store = stores(conn)
        state = await store.retention_state(timer.aggregate_id)
        if state is None or state.purged_at is not None:
            return runtime.Fired(cancelled=True)
        reason: retention.PurgeReason
        if timer.kind == retention.RETENTION_TIMER:
            due, reason = state.purge_after, "retention_expired"
        else:
            due, reason = (state.last_activity_at + timedelta(days=inactive_days)
                           if state.status == "open" else None), "inactive"
        if due is None:  # reopened (no purge date), or concluded (not "inactive")
            return runtime.Fired(cancelled=True)
        if due > now:  # activity since the timer was set
            return runtime.Fired(again=due)
        count = await store.purge(state.situation_id, reason, now)
        others = [k for k in retention.timer_keys(state.situation_id) if k != timer.key]
        await store.timer_store.settle(others, "cancelled", now)
        log.info("identity purged", situation_id=str(state.situation_id), reason=reason)
        return runtime.Fired(events=[retention.purged(state.situation_id, reason, count, now,
                                                      state.district)])

    return {kind: fire for kind in retention.TIMER_KINDS}
