-- Invitations as rows instead of one JSON document per meeting: a situation joining a busy
-- meeting then writes a few rows instead of rewriting every invitation of the meeting.

CREATE TABLE invitations (
    meeting_id    uuid   NOT NULL REFERENCES meetings,
    agency_id     text   NOT NULL,
    invitation_id uuid   NOT NULL UNIQUE,
    name          text   NOT NULL,
    seq           bigserial,            -- the order participants were first invited
    PRIMARY KEY (meeting_id, agency_id)
);

CREATE TABLE invited_for (
    meeting_id         uuid   NOT NULL,
    agency_id          text   NOT NULL,
    situation_id       uuid   NOT NULL,
    reasons            text[] NOT NULL,
    matched_categories text[] NOT NULL,
    why                text   NOT NULL,
    seq                bigserial,       -- the order situations joined the participant's agenda
    PRIMARY KEY (meeting_id, agency_id, situation_id),
    FOREIGN KEY (meeting_id, agency_id) REFERENCES invitations
);

INSERT INTO invitations (meeting_id, agency_id, invitation_id, name)
SELECT m.meeting_id, i.value->>'agency_id', (i.value->>'invitation_id')::uuid, i.value->>'name'
FROM meetings m
CROSS JOIN LATERAL jsonb_array_elements(m.invitations->'invitations') WITH ORDINALITY AS i(value, n)
ORDER BY m.meeting_id, i.n;

INSERT INTO invited_for (meeting_id, agency_id, situation_id, reasons, matched_categories, why)
SELECT m.meeting_id, i.value->>'agency_id', (f.value->>'situation_id')::uuid,
       ARRAY(SELECT jsonb_array_elements_text(f.value->'reasons')),
       ARRAY(SELECT jsonb_array_elements_text(f.value->'matched_categories')),
       f.value->>'why'
FROM meetings m
CROSS JOIN LATERAL jsonb_array_elements(m.invitations->'invitations') WITH ORDINALITY AS i(value, n)
CROSS JOIN LATERAL jsonb_array_elements(i.value->'situations') WITH ORDINALITY AS f(value, k)
ORDER BY m.meeting_id, i.n, f.k;

ALTER TABLE meetings DROP COLUMN invitations;
