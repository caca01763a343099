-- convening's timers move to the runtime's durable_timers (services/runtime/sql/003_timers.sql):
-- every row, whatever its state, with its failures; the SLA timers' window and agency go to the
-- payload (services.convening.timers.as_row). Pending timers keep firing from the new table.
INSERT INTO durable_timers (timer_key, kind, aggregate_id, due_at, payload, state, failures,
                            last_error, created_at, settled_at)
SELECT timer_key, kind, aggregate_id, due_at,
       jsonb_strip_nulls(jsonb_build_object(
           'started_at', to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
           'window_due_at', to_char(window_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
           'agency_id', agency_id)),
       state, failures, last_error, created_at, settled_at
FROM timers
ON CONFLICT (timer_key) DO NOTHING;
DROP TABLE timers;
