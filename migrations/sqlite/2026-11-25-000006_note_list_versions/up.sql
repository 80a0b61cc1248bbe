-- A counter per therapist that moves whenever any of their notes is
-- written, by whatever writes it (the app on any server, the importer, a
-- restore). Search keeps the list of notes it built in session memory and
-- reuses it only while this number is unchanged.
CREATE TABLE note_list_versions (
    therapist_id INTEGER PRIMARY KEY NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    version INTEGER NOT NULL
);

CREATE TRIGGER notes_list_version_insert AFTER INSERT ON notes BEGIN
    INSERT INTO note_list_versions (therapist_id, version) VALUES (NEW.therapist_id, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER notes_list_version_update AFTER UPDATE ON notes BEGIN
    INSERT INTO note_list_versions (therapist_id, version) VALUES (NEW.therapist_id, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = version + 1;
    INSERT INTO note_list_versions (therapist_id, version) VALUES (OLD.therapist_id, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER notes_list_version_delete AFTER DELETE ON notes BEGIN
    INSERT INTO note_list_versions (therapist_id, version) VALUES (OLD.therapist_id, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = version + 1;
END;
