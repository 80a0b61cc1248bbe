ALTER TABLE note_versions DROP COLUMN layout;
ALTER TABLE notes DROP COLUMN layout;
ALTER TABLE practice DROP COLUMN packs_changed;
DROP TABLE pack_terms;
DROP TABLE packs;
DROP TABLE pack_keys;
