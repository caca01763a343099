-- Community event requests. The submission (the only event naming the requester) is kept
-- encrypted (AES-256-GCM, the request id as associated data) until intake purges the contact.
CREATE TABLE event_request_contacts (
    request_id  uuid        PRIMARY KEY,
    key_id      text        NOT NULL,
    nonce       bytea       NOT NULL,
    ciphertext  bytea       NOT NULL,
    received_at timestamptz NOT NULL
);

-- The contact was purged: a late submission is not kept, a late fact's notices fail.
CREATE TABLE event_request_purged (
    request_id uuid        PRIMARY KEY,
    purged_at  timestamptz NOT NULL
);

-- A de-identified fact seen before its submission (another topic): kept until the submission
-- arrives (then notified in arrival order) or the contact is purged (then failed).
CREATE TABLE event_request_waiting (
    cause_id    uuid        PRIMARY KEY,
    seq         bigserial   NOT NULL,
    request_id  uuid        NOT NULL,
    cause_topic text        NOT NULL,
    event_type  text        NOT NULL,
    event       jsonb       NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX event_request_waiting_request ON event_request_waiting (request_id, seq);

-- Notices about a request (their payload is sealed): failed, not sent, once the contact is purged.
ALTER TABLE notices ADD COLUMN request_id uuid;
CREATE INDEX notices_request ON notices (request_id) WHERE request_id IS NOT NULL;
