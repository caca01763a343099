-- convening's own state. Nothing here identifies a person: summaries are the de-identified
-- Filter 2 block that agendas carry.

CREATE TABLE situations (
    situation_id uuid        PRIMARY KEY,
    district     text        NOT NULL,
    priority     text        NOT NULL CHECK (priority IN ('routine', 'urgent')),
    opened_at    timestamptz NOT NULL,
    summary      jsonb       NOT NULL,
    state        jsonb       NOT NULL,   -- services.convening.situation.SituationState
    version      integer     NOT NULL CHECK (version >= 0),
    updated_at   timestamptz NOT NULL
);

CREATE TABLE meetings (
    meeting_id   uuid        PRIMARY KEY,
    district     text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('regular', 'ad_hoc')),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    slot         jsonb       NOT NULL,   -- services.convening.model.MeetingSlot
    invitations  jsonb       NOT NULL,   -- services.convening.invitations.MeetingInvitations
    scheduled_at timestamptz NOT NULL
);
CREATE INDEX meetings_by_district ON meetings (district, starts_at);

CREATE TABLE agendas_issued (
    meeting_id uuid        NOT NULL REFERENCES meetings,
    agency_id  text        NOT NULL,
    revision   integer     NOT NULL CHECK (revision >= 1),
    issued_at  timestamptz NOT NULL,
    PRIMARY KEY (meeting_id, agency_id)
);

CREATE TABLE invitation_answers (
    invitation_id uuid        PRIMARY KEY,
    meeting_id    uuid        NOT NULL REFERENCES meetings,
    agency_id     text        NOT NULL,
    answer        text        NOT NULL CHECK (answer IN ('accepted', 'declined', 'tentative')),
    attendance    text        CHECK (attendance IN ('in_person', 'remote')),
    answered_at   timestamptz NOT NULL
);

-- Durable timers: taken with FOR UPDATE SKIP LOCKED; firing moves state from 'pending' to
-- 'fired' in the same transaction as the outbox rows it emits, so each fires exactly once.
CREATE TABLE timers (
    timer_key     text        PRIMARY KEY,
    kind          text        NOT NULL
                  CHECK (kind IN ('agenda', 'lead_acceptance', 'sla_warning', 'sla_breach')),
    aggregate_id  uuid        NOT NULL,
    due_at        timestamptz NOT NULL,
    started_at    timestamptz,
    window_due_at timestamptz,
    agency_id     text,
    state         text        NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'fired', 'cancelled')),
    created_at    timestamptz NOT NULL,
    settled_at    timestamptz
);
CREATE INDEX timers_due ON timers (due_at) WHERE state = 'pending';
CREATE INDEX timers_pending_by_aggregate ON timers (aggregate_id) WHERE state = 'pending';
