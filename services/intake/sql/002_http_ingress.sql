-- HTTP ingress: per-agency bearer tokens (only their SHA-256 hashes) and submissions accepted
-- over HTTP that intake's consumer has not answered yet.
CREATE TABLE api_tokens (
    token_hash bytea       PRIMARY KEY,
    agency_id  text        NOT NULL,
    issued_at  timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_tokens_agency ON api_tokens (agency_id);

CREATE TABLE http_submissions (
    agency_id    text        NOT NULL,
    referral_ref text        NOT NULL,
    event_id     uuid        NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (agency_id, referral_ref, event_id)
);
