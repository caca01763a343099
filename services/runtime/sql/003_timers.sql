-- The durable timers of services.runtime.timers, one table for every service: a row per timer,
-- taken FOR UPDATE SKIP LOCKED by the one timer loop; firing moves it from 'pending' to 'fired'
-- (or 'cancelled') in the transaction that writes the outbox rows it emits, so each fires once.
-- A timer that fails at N polls in a row is 'parked' with its last error (docs/operations.md).
-- Named durable_timers, not timers: convening had a table of that name before this one, and the
-- runtime's migrations run before a service's own (convening's 006 moves its rows here).
CREATE TABLE durable_timers (
    timer_key    text        PRIMARY KEY,
    kind         text        NOT NULL,
    aggregate_id uuid        NOT NULL,
    due_at       timestamptz NOT NULL,
    payload      jsonb       NOT NULL DEFAULT '{}',   -- a few strings the service's fire reads
    state        text        NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'fired', 'cancelled', 'parked')),
    failures     integer     NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL,
    settled_at   timestamptz
);
CREATE INDEX durable_timers_due ON durable_timers (due_at, timer_key) WHERE state = 'pending';
CREATE INDEX durable_timers_pending_by_aggregate ON durable_timers (aggregate_id)
    WHERE state = 'pending';
