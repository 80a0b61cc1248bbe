-- The practice's own handouts are shared practice material, not about any
-- client, so they stay as written (see README, "What is protected"). Only
-- the therapist who added one, or an administrator, may change it; every
-- change keeps the text it replaced here, with who changed it and when.
ALTER TABLE practice_handouts ADD COLUMN updated_by BIGINT REFERENCES therapists (id);

CREATE TABLE practice_handout_versions (
    id INTEGER PRIMARY KEY NOT NULL,
    handout_id BIGINT NOT NULL REFERENCES practice_handouts (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    fits TEXT NOT NULL,
    written_by BIGINT REFERENCES therapists (id),
    written_at BIGINT NOT NULL,
    UNIQUE (handout_id, version)
);
