-- Community event requests' reminders and contact purges move to the runtime's durable_timers
-- (services/runtime/sql/003_timers.sql; services/intake/event_requests/timers.py): a pending
-- timer for every request with a reminder or a purge to come, at exactly that time, so nothing
-- due is lost on upgrade (one already due fires at the loop's first look). The columns stay the
-- state the timers follow; the indexes the old loop selected due rows by go.
INSERT INTO durable_timers (timer_key, kind, aggregate_id, due_at, created_at)
SELECT 'event_reminder/' || request_id, 'event_reminder', request_id, next_reminder_at, now()
FROM event_requests WHERE next_reminder_at IS NOT NULL
UNION ALL
SELECT 'event_purge/' || request_id, 'event_purge', request_id, purge_after, now()
FROM event_requests WHERE purge_after IS NOT NULL
ON CONFLICT (timer_key) DO NOTHING;
DROP INDEX event_requests_reminder_due;
DROP INDEX event_requests_purge_due;
