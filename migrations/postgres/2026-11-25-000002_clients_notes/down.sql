DROP TABLE addenda;
DROP TABLE note_versions;
DROP TABLE notes;
DROP TABLE custom_tags;
DROP TABLE clients;
