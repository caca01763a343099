-- Notices: one row per (cause event, recipient, kind); the id is derived from those three.
-- Handlers only insert; the delivery loop takes due rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE notices (
    notice_id        uuid        PRIMARY KEY,
    cause_id         uuid        NOT NULL,
    cause_topic      text        NOT NULL,
    kind             text        NOT NULL,
    recipient_agency text        NOT NULL,
    recipient_key    text        NOT NULL,
    channel          text        NOT NULL CHECK (channel IN ('email', 'webhook')),
    address          text        NOT NULL,
    privacy          text        NOT NULL,
    payload          jsonb,      -- the rendered notice; cleared once delivered or given up
    state            text        NOT NULL DEFAULT 'pending'
                                 CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_error       text,
    message_id       text,       -- the channel's id (Message-ID, Idempotency-Key)
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    failed_at        timestamptz,
    acknowledged_at  timestamptz,
    UNIQUE (cause_id, recipient_key, kind)
);
CREATE INDEX notices_due ON notices (next_attempt_at) WHERE state = 'pending';

-- Facts later events need but do not carry.
CREATE TABLE meetings (
    meeting_id uuid        PRIMARY KEY,
    district   text        NOT NULL,
    kind       text        NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    venue      text        NOT NULL
);

CREATE TABLE situations (
    situation_id       uuid PRIMARY KEY,
    originating_agency text NOT NULL,
    district           text NOT NULL
);

-- CommandRejected does not name its actor: the command (table-actions topic) does.
CREATE TABLE command_actors (
    command_id uuid PRIMARY KEY,
    agency_id  text NOT NULL,
    role       text NOT NULL
);

-- A refusal seen before its command: kept until the command arrives.
CREATE TABLE pending_refusals (
    command_id uuid  PRIMARY KEY,
    cause_id   uuid  NOT NULL,
    event      jsonb NOT NULL
);
