-- Rating scales recorded for a client (PHQ-9, GAD-7). Plain: ids, the
-- date it was taken (like a session date) and times. Sealed under the
-- therapist's DK, bound to the client: which instrument, every answer and
-- the session note it belongs to, so a database copy cannot tell who was
-- screened for what or how they scored.
CREATE TABLE measures (
    id INTEGER PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    taken_on TEXT NOT NULL,
    answers BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    -- When the therapist marked it entered in error (a wrong answer, the
    -- wrong client): kept, shown struck through, left out of scores.
    entered_in_error_at BIGINT,
    -- The one-time id of the form it was saved from (random, about no
    -- one): the same form sent twice finds the measure it already made.
    form_id TEXT
);
CREATE UNIQUE INDEX measures_form_id ON measures (therapist_id, form_id);
-- A client's measures in date order (the client page, the caseload).
CREATE INDEX measures_client ON measures (client_id, taken_on, created_at, id);
-- Each client's count and newest write, the caseload's stamp, from the
-- index alone.
CREATE INDEX measures_therapist ON measures (therapist_id, client_id, created_at);

-- A counter per therapist that moves whenever any of their measures is
-- written or removed, by whatever does it (like note_list_versions): the
-- caseload keeps every client's scores in session memory and reuses them
-- while it is unchanged.
CREATE TABLE measure_list_versions (
    therapist_id INTEGER PRIMARY KEY NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    version INTEGER NOT NULL
);

CREATE TRIGGER measures_list_version_insert AFTER INSERT ON measures BEGIN
    INSERT INTO measure_list_versions (therapist_id, version) VALUES (NEW.therapist_id, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER measures_list_version_update AFTER UPDATE ON measures BEGIN
    INSERT INTO measure_list_versions (therapist_id, version) VALUES (NEW.therapist_id, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = version + 1;
    INSERT INTO measure_list_versions (therapist_id, version) VALUES (OLD.therapist_id, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER measures_list_version_delete AFTER DELETE ON measures BEGIN
    INSERT INTO measure_list_versions (therapist_id, version) VALUES (OLD.therapist_id, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = version + 1;
END;
