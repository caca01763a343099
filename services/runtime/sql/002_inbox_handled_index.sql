-- The inbox is pruned by age (COMMANDE_INBOX_RETENTION_DAYS).
CREATE INDEX inbox_handled_at ON inbox (handled_at);
