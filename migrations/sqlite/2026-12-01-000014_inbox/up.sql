-- The inbox for outside tools (SECURITY.md "Outside tools"): write-only
-- tokens, stored as a hash, and drafts sealed to the therapist's public key
-- before they are stored, so neither the database nor the token that
-- posted one can read it.

CREATE TABLE inbox_tokens (
    id BIGINT PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    -- What the therapist called it, sealed under their DK.
    name BLOB NOT NULL,
    -- SHA-256 of the token (256 random bits: no slow hash needed).
    token_hash BLOB NOT NULL UNIQUE,
    -- The therapist's public key when the token was made, pinned with a
    -- key only the token itself gives (see inbox::store::key_tag): a
    -- database writer who swaps in a public key of their own cannot make a
    -- matching tag, so drafts are never sealed to their key.
    key_tag BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT,
    -- Posts counted in the current minute, for the rate limit.
    window_start BIGINT NOT NULL DEFAULT 0,
    window_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbox_tokens_by_therapist ON inbox_tokens (therapist_id);

CREATE TABLE inbox_drafts (
    id BIGINT PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    token_id BIGINT NOT NULL,
    -- HPKE to the therapist's public key (crypto::share::InboxDrop).
    sealed BLOB NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX inbox_drafts_by_therapist ON inbox_drafts (therapist_id, received_at);
