-- The practice's name, for printed handouts (not client data).
ALTER TABLE practice ADD COLUMN name TEXT;

-- The practice's own handouts (imported or copied). Not client data: plain.
CREATE TABLE practice_handouts (
    id BIGINT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    fits TEXT NOT NULL,
    sources TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_by BIGINT NOT NULL REFERENCES therapists (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A handout given to a client. Plain: which handout, which version, when,
-- and the print options. Sealed: the exact text printed, the personal note
-- and a hash of both (a plain hash would let a guess at a note be checked).
CREATE TABLE handouts_given (
    id BIGINT PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    version INTEGER NOT NULL,
    text_hash BYTEA NOT NULL,
    body BYTEA NOT NULL,
    personal_note BYTEA NOT NULL,
    paper TEXT NOT NULL CHECK (paper IN ('letter', 'a4')),
    large_print BOOLEAN NOT NULL,
    discreet BOOLEAN NOT NULL,
    given_at BIGINT NOT NULL
);
CREATE INDEX handouts_given_client ON handouts_given (client_id, given_at);
