-- Community event requests (numbered 010 to stay clear of the referral side's next migrations).
-- `event_requests` holds ids, codes, dates and the follow-up state only; the requester's contact
-- details (and the free-text venue and topics) are in `event_request_contacts`, AES-256-GCM
-- ciphertext under the vault key, deleted on purge.
CREATE TABLE event_requests (
    request_id          uuid        PRIMARY KEY,
    status              text        NOT NULL CHECK (status IN ('acknowledged', 'rejected',
                                                               'scheduled', 'declined',
                                                               'withdrawn')),
    kind                text,
    municipality        text,
    district            text,
    agency_id           text,
    last_preferred_date date,
    answered_at         timestamptz NOT NULL,
    decided_at          timestamptz,
    scheduled_date      date,
    reminder_level      smallint    NOT NULL DEFAULT 0 CHECK (reminder_level BETWEEN 0 AND 2),
    next_reminder_at    timestamptz,           -- NULL: no reminder to come
    has_contact         boolean     NOT NULL,
    purge_after         timestamptz,           -- NULL: nothing (more) to purge
    purged_at           timestamptz
);
CREATE INDEX event_requests_reminder_due ON event_requests (next_reminder_at)
    WHERE next_reminder_at IS NOT NULL;
CREATE INDEX event_requests_purge_due ON event_requests (purge_after)
    WHERE purge_after IS NOT NULL;

CREATE TABLE event_request_contacts (
    request_id uuid        PRIMARY KEY REFERENCES event_requests (request_id),
    key_id     text        NOT NULL,
    nonce      bytea       NOT NULL,
    ciphertext bytea       NOT NULL,
    stored_at  timestamptz NOT NULL
);
