DROP TABLE practice_handout_versions;
ALTER TABLE practice_handouts DROP COLUMN updated_by;
