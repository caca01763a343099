-- Community event requests from the public wait for their requester to confirm the address they
-- gave (numbered 020 to stay clear of the referral side's next migrations).
-- `pending_answer` is the de-identified answer (an EventRequestAcknowledged or
-- EventRequestRejected, as JSON; `pending_type` its ce_type) given once the address is confirmed;
-- nothing identifying is in it. An unconfirmed request expires at `confirm_expires_at` (its
-- `purge_after`) and its contact is deleted then.
ALTER TABLE event_requests DROP CONSTRAINT event_requests_status_check;
ALTER TABLE event_requests ADD CONSTRAINT event_requests_status_check
    CHECK (status IN ('awaiting_confirmation', 'acknowledged', 'rejected', 'scheduled',
                      'declined', 'withdrawn', 'expired'));
ALTER TABLE event_requests ADD COLUMN confirm_expires_at timestamptz;
ALTER TABLE event_requests ADD COLUMN confirmed_at timestamptz;
ALTER TABLE event_requests ADD COLUMN pending_type text;
ALTER TABLE event_requests ADD COLUMN pending_answer jsonb;

-- Limits shared by every intake instance. A token bucket per client address, keyed by a keyed
-- hash of the address (HMAC under a key derived from the vault key: never the address in clear,
-- and not reversible by trying the 2^32 IPv4 addresses); a row idle long enough for its bucket
-- to be full again is the same as no row, and is pruned.
CREATE TABLE event_rate_buckets (
    client_key bytea            PRIMARY KEY,
    tokens     double precision NOT NULL,
    allowed    boolean          NOT NULL,
    seen_at    timestamptz      NOT NULL
);
CREATE INDEX event_rate_buckets_seen ON event_rate_buckets (seen_at);

-- Confirmation e-mails per recipient address per day (America/Toronto), keyed by a keyed hash of
-- the normalised address; past days are pruned.
CREATE TABLE event_confirmation_counts (
    recipient_key bytea   NOT NULL,
    day           date    NOT NULL,
    sent          integer NOT NULL,
    PRIMARY KEY (recipient_key, day)
);
CREATE INDEX event_confirmation_counts_day ON event_confirmation_counts (day);

-- A bucket's level at `level_at`: what it held, plus `per_second` for each second since it was
-- last seen, at most `burst`.
CREATE FUNCTION event_bucket_level(tokens double precision, seen_at timestamptz,
                                   level_at timestamptz, burst double precision,
                                   per_second double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
    SELECT LEAST(burst, tokens + GREATEST(0, EXTRACT(EPOCH FROM (level_at - seen_at)))::float8
                 * per_second)
$$;
