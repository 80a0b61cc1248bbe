DROP TRIGGER notes_list_version ON notes;
DROP FUNCTION notes_list_version();
DROP FUNCTION bump_note_list_version(BIGINT);
DROP TABLE note_list_versions;
