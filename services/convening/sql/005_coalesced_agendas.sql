-- Coalesced agendas (services/convening/agenda.py, docs/agendas.md): what each participant last
-- received, so an update says what changed, and whether a change waits for the update window.
ALTER TABLE agendas_issued ADD COLUMN items uuid[] NOT NULL DEFAULT '{}';
ALTER TABLE agendas_issued ADD COLUMN pending_since timestamptz;
