-- A practice's PEMAT-P self-assessment of a handout version (AHRQ's
-- Patient Education Materials Assessment Tool for printable materials):
-- the answer to each item, as JSON. Practice material about no client, so
-- stored as written. Built-in handouts ship with theirs in the binary.

CREATE TABLE handout_assessments (
    slug TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- {"1": "agree", "11": "disagree", "16": "na", ...; "notes": {"11": "why"}}
    answers TEXT NOT NULL,
    -- SHA-256 of the title and text assessed: a handout changed without a
    -- new version number (a pack re-signed, a slug reused) is unscored.
    text_hash TEXT NOT NULL,
    assessed_by BIGINT REFERENCES therapists (id) ON DELETE SET NULL,
    assessed_at BIGINT NOT NULL,
    PRIMARY KEY (slug, version)
);
