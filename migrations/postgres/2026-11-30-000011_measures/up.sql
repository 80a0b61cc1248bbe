-- Rating scales recorded for a client (PHQ-9, GAD-7). Plain: ids, the
-- date it was taken (like a session date) and times. Sealed under the
-- therapist's DK, bound to the client: which instrument, every answer and
-- the session note it belongs to, so a database copy cannot tell who was
-- screened for what or how they scored.
CREATE TABLE measures (
    id BIGINT PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    taken_on TEXT NOT NULL,
    answers BYTEA NOT NULL,
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
    therapist_id BIGINT PRIMARY KEY NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);

CREATE FUNCTION bump_measure_list_version(therapist BIGINT) RETURNS void AS $$
    INSERT INTO measure_list_versions (therapist_id, version) VALUES (therapist, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = measure_list_versions.version + 1;
$$ LANGUAGE sql;

CREATE FUNCTION measures_list_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM bump_measure_list_version(NEW.therapist_id);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_measure_list_version(OLD.therapist_id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER measures_list_version AFTER INSERT OR UPDATE OR DELETE ON measures
    FOR EACH ROW EXECUTE FUNCTION measures_list_version();
