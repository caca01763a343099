-- intake's own tables. Identity lives only in `vault` (AES-256-GCM ciphertext); everything else
-- is ids, codes and audit metadata.

-- One row per (agency, referral_ref): the answer given, for de-duplication.
CREATE TABLE referrals (
    agency_id       text        NOT NULL,
    referral_ref    text        NOT NULL,
    fingerprint     bytea,                 -- HMAC of the content; NULL once identity is purged
    fingerprint_key text,                  -- vault key id the fingerprint was made with
    outcome         text        NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    situation_id    uuid,
    district        text,
    reasons         jsonb       NOT NULL DEFAULT '[]',
    answered_at     timestamptz NOT NULL,
    PRIMARY KEY (agency_id, referral_ref)
);

-- The de-identified situations intake opened, and their retention state.
CREATE TABLE situations (
    situation_id       uuid        PRIMARY KEY,
    agency_id          text        NOT NULL,
    referral_ref       text        NOT NULL,
    district           text        NOT NULL,
    status             text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'concluded')),
    conclusion         text,
    concluded_at       timestamptz,
    purge_after        timestamptz,
    purged_at          timestamptz,
    purge_reason       text,
    opened_at          timestamptz NOT NULL,
    UNIQUE (agency_id, referral_ref)
);
CREATE INDEX situations_purge_due ON situations (purge_after)
    WHERE purged_at IS NULL AND purge_after IS NOT NULL;

-- The identity vault: one encrypted identified block per situation; deleted on purge.
CREATE TABLE vault (
    situation_id uuid        PRIMARY KEY REFERENCES situations (situation_id),
    key_id       text        NOT NULL,
    nonce        bytea       NOT NULL,
    ciphertext   bytea       NOT NULL,
    stored_at    timestamptz NOT NULL
);

-- Filter 3 assignments (who is lead / assisting), for Filter 4 disclosures on acceptance.
CREATE TABLE assignments (
    situation_id     uuid NOT NULL,
    agency_id        text NOT NULL,
    role             text NOT NULL CHECK (role IN ('lead', 'assisting')),
    identity_release text NOT NULL,
    PRIMARY KEY (situation_id, agency_id)
);

-- The disclosure audit log (domain.md section 5): who disclosed what, to whom, when, why and
-- under which law. Append-only: updates, deletes and truncation are refused.
CREATE TABLE disclosures (
    disclosure_id     uuid        PRIMARY KEY,
    situation_id      uuid        NOT NULL,
    disclosing_agency text        NOT NULL,
    recipient_agency  text        NOT NULL,
    recipient_key_id  text        NOT NULL,
    fields            text[]      NOT NULL,
    legal_basis       text        NOT NULL,
    filter_stage      smallint    NOT NULL,
    purpose           text        NOT NULL,
    sealed_at         timestamptz NOT NULL,
    UNIQUE (situation_id, recipient_agency, filter_stage)
);

CREATE FUNCTION disclosures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'intake.disclosures is an append-only audit log';
END;
$$;
CREATE TRIGGER disclosures_no_update BEFORE UPDATE OR DELETE ON disclosures
    FOR EACH ROW EXECUTE FUNCTION disclosures_append_only();
CREATE TRIGGER disclosures_no_truncate BEFORE TRUNCATE ON disclosures
    FOR EACH STATEMENT EXECUTE FUNCTION disclosures_append_only();
