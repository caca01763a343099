-- Bookkeeping rows get an age, so they can be pruned (COMMANDE_NOTIFIER_BOOKKEEPING_DAYS).
ALTER TABLE situations ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE command_actors ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE pending_refusals ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX notices_settled ON notices (created_at) WHERE state <> 'pending';
