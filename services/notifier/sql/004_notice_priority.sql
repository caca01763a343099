-- Urgent notices first (docs/adr/0006-urgent-lane.md): the delivery loop takes due rows by
-- (priority, next_attempt_at), so a backlog of routine notices never delays an urgent one.
-- 0 = urgent (someone is waiting on it now), 1 = routine.
ALTER TABLE notices ADD COLUMN priority smallint NOT NULL DEFAULT 1 CHECK (priority IN (0, 1));
DROP INDEX notices_due;
CREATE INDEX notices_due ON notices (priority, next_attempt_at) WHERE state = 'pending';
