-- The table console (issue 16): what its pages read besides the first read model, and its
-- sign-in sessions. Still nothing that identifies a person: agencies, codes, times, and sealed
-- packages the server cannot open.

-- When a situation was opened (how long it has waited), when AER was confirmed and agencies
-- assigned (the 24/48-hour clock), and its conclusion.
ALTER TABLE situations ADD COLUMN opened_at timestamptz;
ALTER TABLE situations ADD COLUMN confirmed_at timestamptz;
ALTER TABLE situations ADD COLUMN assigned_at timestamptz;
ALTER TABLE situations ADD COLUMN conclusion text;

-- Every AgendaIssued record (each revision), so notices it caused can be matched to a meeting
-- and an agency: who was invited, and who acknowledged.
CREATE TABLE agenda_records (
    ce_id      text PRIMARY KEY,
    meeting_id uuid NOT NULL,
    agency_id  text NOT NULL
);
CREATE INDEX agenda_records_by_meeting ON agenda_records (meeting_id);

-- The notices stream: what notifier delivered to which agency, and what was acknowledged.
CREATE TABLE notices (
    notice_id        uuid        PRIMARY KEY,
    recipient_agency text        NOT NULL,
    kind             text,
    cause_id         text,
    delivered_at     timestamptz,
    acknowledged_at  timestamptz,
    via              text
);
CREATE INDEX notices_by_cause ON notices (cause_id);
CREATE INDEX notices_by_agency ON notices (recipient_agency, delivered_at);

-- Response-time warnings and breaches (convening's SLA timers), for the Staff Sergeant.
CREATE TABLE sla_alerts (
    ce_id        text        PRIMARY KEY,
    situation_id uuid        NOT NULL,
    district     text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('warning', 'breach')),
    sla          text        NOT NULL,
    agency_id    text,
    started_at   timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX sla_alerts_by_district ON sla_alerts (district, at);

-- Sealed disclosure packages (the DisclosureSealed record, signed by intake) for the recipient
-- agency's contact to open in the browser; the server holds only ciphertext it cannot open.
-- Deleted when intake purges the situation's identity, and after COMMANDE_CONSOLE_PACKAGE_DAYS.
CREATE TABLE disclosures (
    disclosure_id    uuid        PRIMARY KEY,
    situation_id     uuid        NOT NULL,
    recipient_agency text        NOT NULL,
    sealed_at        timestamptz NOT NULL,
    package          text        NOT NULL
);
CREATE INDEX disclosures_by_agency ON disclosures (recipient_agency, sealed_at);
CREATE INDEX disclosures_by_situation ON disclosures (situation_id);

-- Community event requests, de-identified (the requester's details never leave intake and
-- notifier): what the CMB manager must follow up, and where each stands.
ALTER TABLE event_requests ADD COLUMN municipality text;
ALTER TABLE event_requests ADD COLUMN kind text;
ALTER TABLE event_requests ADD COLUMN windows jsonb;
ALTER TABLE event_requests ADD COLUMN expected_attendees text;
ALTER TABLE event_requests ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE event_requests ADD COLUMN status text NOT NULL DEFAULT 'acknowledged';
ALTER TABLE event_requests ADD COLUMN decided_at timestamptz;
ALTER TABLE event_requests ADD COLUMN reminders integer NOT NULL DEFAULT 0;
ALTER TABLE event_requests ADD COLUMN escalated_to text;

-- Sign-in attempts (authorization code with PKCE), keyed by the hash of a cookie that binds
-- the attempt to the browser that began it; single use, ten minutes.
CREATE TABLE console_logins (
    login_hash  bytea       PRIMARY KEY,
    state       text        NOT NULL,
    nonce       text        NOT NULL,
    verifier    text        NOT NULL,
    return_to   text        NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Signed-in sessions, keyed by the SHA-256 of the random session id in the cookie (the id
-- itself is never stored); real time, never the services' clock. groups: the token's group paths (agencies and posts, no person).
-- id_token_sealed: the ID token, needed to end the provider's session at sign-out, sealed with
-- a key derived from the cookie (AES-256-GCM): the database alone cannot read it.
CREATE TABLE console_sessions (
    session_hash    bytea       PRIMARY KEY,
    groups          text[]      NOT NULL,
    csrf            text        NOT NULL,
    id_token_sealed bytea,
    created_at      timestamptz NOT NULL,
    idle_until      timestamptz NOT NULL,           -- moved on at each request (idle timeout)
    expires_at      timestamptz NOT NULL            -- absolute lifetime
);
CREATE INDEX console_sessions_idle ON console_sessions (idle_until);
