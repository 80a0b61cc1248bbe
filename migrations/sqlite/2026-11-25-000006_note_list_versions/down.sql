DROP TRIGGER notes_list_version_delete;
DROP TRIGGER notes_list_version_update;
DROP TRIGGER notes_list_version_insert;
DROP TABLE note_list_versions;
