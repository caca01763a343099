-- The gateway's own state: the commands people issued through it and what they caused, and a
-- de-identified read model of the tables for the queries (fed by its consumer group). Nothing
-- here identifies a person: actors are agencies in roles; the token's subject is never stored.

CREATE TABLE commands (
    command_id   uuid        PRIMARY KEY,           -- the command's ce_id
    command_type text        NOT NULL,
    target_id    uuid        NOT NULL,              -- the situation or event request
    agency_id    text        NOT NULL,              -- the verified actor
    role         text        NOT NULL,
    issued_at    timestamptz NOT NULL
);

-- Records whose ce_causationid is one of our commands: the facts or the refusal.
CREATE TABLE outcomes (
    command_id  uuid        NOT NULL REFERENCES commands,
    ce_id       text        NOT NULL,
    ce_type     text        NOT NULL,
    body        jsonb       NOT NULL,
    seq         bigserial,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (command_id, ce_id)
);

CREATE TABLE situations (
    situation_id uuid        PRIMARY KEY,
    district     text        NOT NULL,
    priority     text        NOT NULL,
    status       text        NOT NULL,              -- the last event's short name
    meeting_id   uuid,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE timeline (
    situation_id uuid        NOT NULL,
    ce_id        text        NOT NULL,
    seq          bigserial,
    at           timestamptz NOT NULL,
    event        text        NOT NULL,
    detail       text        NOT NULL,              -- codes and agency slugs only
    PRIMARY KEY (situation_id, ce_id)
);
CREATE INDEX timeline_in_order ON timeline (situation_id, seq);

CREATE TABLE tasks (
    situation_id uuid        NOT NULL,
    agency_id    text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('lead', 'assisting')),
    state        text        NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (situation_id, agency_id)
);
CREATE INDEX tasks_by_agency ON tasks (agency_id, updated_at);

CREATE TABLE meetings (
    meeting_id uuid        PRIMARY KEY,
    district   text        NOT NULL,
    kind       text        NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    venue      text        NOT NULL
);
CREATE INDEX meetings_by_district ON meetings (district, starts_at);

CREATE TABLE invitations (
    invitation_id uuid   PRIMARY KEY,
    meeting_id    uuid   NOT NULL,
    agency_id     text   NOT NULL,
    reason        text   NOT NULL,
    situation_ids uuid[] NOT NULL
);
CREATE INDEX invitations_by_meeting ON invitations (meeting_id, agency_id);
CREATE INDEX invitations_by_situation ON invitations USING gin (situation_ids);

CREATE TABLE agendas (
    meeting_id uuid    NOT NULL,
    agency_id  text    NOT NULL,
    revision   integer NOT NULL,
    body       jsonb   NOT NULL,                    -- the AgendaIssued data (de-identified)
    PRIMARY KEY (meeting_id, agency_id)
);

CREATE TABLE event_requests (
    request_id uuid PRIMARY KEY,
    district   text NOT NULL
);
