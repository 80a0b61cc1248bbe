-- Private links to a given handout (SECURITY.md "Private handout links").
-- The link is /h/ID-SECRET. The database holds a hash of the ID (to find
-- the row), and the personalised handout sealed under a key derived from
-- the SECRET with Argon2id, so a copy of the database cannot open it. The
-- code itself is also kept sealed under the client's key, so the
-- therapist can print its QR code again.

CREATE TABLE handout_links (
    id BIGINT PRIMARY KEY NOT NULL,
    given_id BIGINT NOT NULL REFERENCES handouts_given (id) ON DELETE CASCADE,
    -- SHA-256 of the link's id part.
    lookup BLOB NOT NULL UNIQUE,
    -- The handout as given (title, text, name, note), sealed under the
    -- link's key; emptied when the link ends.
    content BLOB NOT NULL,
    -- A fixed value sealed under the link's key: checked before saying a
    -- link has ended, so an id alone learns nothing (kept when content is
    -- wiped).
    verifier BLOB NOT NULL,
    -- The whole code, sealed under the client's key (for the reprint).
    code BLOB NOT NULL,
    -- The handout's language, for the page shown once the link has ended.
    lang TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    max_opens INTEGER NOT NULL,
    opens INTEGER NOT NULL DEFAULT 0,
    first_opened_at BIGINT,
    last_opened_at BIGINT,
    -- When and why it stopped working: revoked, expired or used up.
    ended_at BIGINT,
    ended_why TEXT
);
CREATE INDEX handout_links_by_given ON handout_links (given_id);
-- Links still working, by when they stop: the sweep that wipes expired ones.
CREATE INDEX handout_links_live ON handout_links (expires_at) WHERE ended_at IS NULL;
