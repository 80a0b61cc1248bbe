-- Clients. Every column that says anything about the person is sealed under
-- the therapist's DK (BYTEA); only ids, times and the archive flag are plain.
CREATE TABLE clients (
    id BIGINT PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    full_name BYTEA NOT NULL,
    preferred_name BYTEA NOT NULL,
    pronouns BYTEA NOT NULL,
    date_of_birth BYTEA NOT NULL,
    about BYTEA NOT NULL,
    archived_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX clients_therapist ON clients (therapist_id);

-- A therapist's own tags; notes refer to them by id, the label is sealed.
CREATE TABLE custom_tags (
    id BIGINT PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    label BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX custom_tags_therapist ON custom_tags (therapist_id);

-- Session notes. Plain: dates, duration, type, format, status, revision and
-- times. Sealed: the sections, key moment, private process note, tags and,
-- once signed, the content hash.
CREATE TABLE notes (
    id BIGINT PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    session_date TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    session_type TEXT NOT NULL CHECK (session_type IN ('individual', 'couple', 'family', 'group')),
    format TEXT NOT NULL CHECK (format IN ('soap', 'dap', 'birp', 'free')),
    status TEXT NOT NULL CHECK (status IN ('draft', 'signed')),
    revision INTEGER NOT NULL,
    sections BYTEA NOT NULL,
    key_moment BYTEA NOT NULL,
    process_note BYTEA NOT NULL,
    tags BYTEA NOT NULL,
    content_hash BYTEA,
    signed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX notes_therapist_date ON notes (therapist_id, session_date);
CREATE INDEX notes_client ON notes (client_id, session_date);

-- Every saved revision of a draft, sealed like the note.
CREATE TABLE note_versions (
    id BIGINT PRIMARY KEY NOT NULL,
    note_id BIGINT NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    saved_at BIGINT NOT NULL,
    format TEXT NOT NULL,
    sections BYTEA NOT NULL,
    key_moment BYTEA NOT NULL,
    process_note BYTEA NOT NULL,
    tags BYTEA NOT NULL,
    UNIQUE (note_id, revision)
);

-- Dated additions to a signed note; the signed text never changes.
CREATE TABLE addenda (
    id BIGINT PRIMARY KEY NOT NULL,
    note_id BIGINT NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    body BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX addenda_note ON addenda (note_id, created_at);
