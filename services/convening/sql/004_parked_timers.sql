-- A timer that fails for good is parked (one log line), not retried with a traceback every poll.
ALTER TABLE timers ADD COLUMN failures integer NOT NULL DEFAULT 0;
ALTER TABLE timers ADD COLUMN last_error text;
ALTER TABLE timers DROP CONSTRAINT timers_state_check;
ALTER TABLE timers ADD CONSTRAINT timers_state_check
    CHECK (state IN ('pending', 'fired', 'cancelled', 'parked'));
