-- intake's retention moves to the runtime's durable_timers (services/intake/purging.py): a
-- pending timer for every unpurged situation, so nothing due is lost on upgrade. A concluded one
-- with a purge date gets its identity_retention timer at that date; an open one its
-- identity_inactive timer at its last activity: the first poll reads the configured
-- COMMANDE_INTAKE_INACTIVE_RETENTION_DAYS, purges those inactive that long and moves the others
-- to their time. The indexes the old loop selected due rows by go.
INSERT INTO durable_timers (timer_key, kind, aggregate_id, due_at, created_at)
SELECT 'identity_retention/' || situation_id, 'identity_retention', situation_id, purge_after,
       now()
FROM situations WHERE purged_at IS NULL AND purge_after IS NOT NULL
UNION ALL
SELECT 'identity_inactive/' || situation_id, 'identity_inactive', situation_id,
       last_activity_at, now()
FROM situations WHERE purged_at IS NULL AND status = 'open'
ON CONFLICT (timer_key) DO NOTHING;
DROP INDEX situations_purge_due;
DROP INDEX situations_inactive;
