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
    created_at BIGINT NOT NULL
);
CREATE INDEX measures_client ON measures (client_id, taken_on);
CREATE INDEX measures_therapist ON measures (therapist_id);
