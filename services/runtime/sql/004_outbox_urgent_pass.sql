-- An urgent lane's copies are published by a relay pass of their own (docs/adr/0006): a backlog
-- of routine rows must not hold them back. That pass reads them by this index.
ALTER TABLE outbox ADD COLUMN urgent boolean NOT NULL DEFAULT false;
CREATE INDEX outbox_unsent_urgent ON outbox (seq) WHERE sent_at IS NULL AND urgent;
