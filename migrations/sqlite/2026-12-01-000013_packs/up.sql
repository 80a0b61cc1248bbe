-- Signed packs (docs/PACKS.md): the publishers' keys the practice trusts,
-- packs uploaded in the app (so every app server loads the same ones),
-- and every pack tag ever loaded, so a note keeps its words after its pack
-- changes or goes. All of it is practice material about no client.

-- A minisign public key the administrator trusts; key_id as minisign
-- prints it (16 hex digits).
CREATE TABLE pack_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    public_key TEXT NOT NULL,
    trusted_by BIGINT,
    trusted_at BIGINT NOT NULL
);

-- A pack uploaded on /practice/packs: its files as they arrived (all
-- text), checked again against the trusted keys at every load.
CREATE TABLE packs (
    id BIGINT PRIMARY KEY NOT NULL,
    pack_id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    files TEXT NOT NULL,
    uploaded_by BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL
);

-- Each tag of each version of each pack that was ever loaded. Notes name a
-- pack tag with its version (pack:ID/SLUG@VERSION), and read its words here.
CREATE TABLE pack_terms (
    term TEXT PRIMARY KEY NOT NULL,
    label TEXT NOT NULL,
    help TEXT NOT NULL,
    pack_name TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);

-- Bumped at every change to keys or uploads: other app servers reload.
ALTER TABLE practice ADD COLUMN packs_changed BIGINT NOT NULL DEFAULT 0;

-- A note written with a pack's template keeps the template itself (its
-- name, version and sections), sealed with the note. Its plain format
-- stays 'free', so which template (a crisis note, say) is not in the clear.
ALTER TABLE notes ADD COLUMN layout BLOB;
ALTER TABLE note_versions ADD COLUMN layout BLOB;
