-- How many situations each meeting holds: a full meeting (the capacity setting, at most the
-- 100 items an agenda carries) sends the next situation to the following one.
ALTER TABLE meetings ADD COLUMN situation_count integer NOT NULL DEFAULT 0
    CHECK (situation_count >= 0);
