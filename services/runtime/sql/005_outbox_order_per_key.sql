-- Any row may go through the relay's urgent pass (docs/adr/0006), not only an urgent lane's
-- copies, so each pass looks for an earlier unsent row of the same topic and key in the other
-- pass before publishing one (a key's records stay in seq order). The urgent pass reads the
-- routine rows of a key by this index; the routine pass reads the few urgent ones by
-- outbox_unsent_urgent.
CREATE INDEX outbox_unsent_by_key ON outbox (topic, key, seq) WHERE sent_at IS NULL;
