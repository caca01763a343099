-- A situation's last activity: identity of an open situation with none for too long is purged
-- (COMMANDE_INTAKE_INACTIVE_RETENTION_DAYS).
ALTER TABLE situations ADD COLUMN last_activity_at timestamptz;
UPDATE situations SET last_activity_at = coalesce(concluded_at, opened_at);
ALTER TABLE situations ALTER COLUMN last_activity_at SET NOT NULL;
CREATE INDEX situations_inactive ON situations (last_activity_at)
    WHERE purged_at IS NULL AND status = 'open';
