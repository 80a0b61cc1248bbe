-- A counter per therapist that moves whenever any of their notes is
-- written, by whatever writes it (the app on any server, the importer, a
-- restore). Search keeps the list of notes it built in session memory and
-- reuses it only while this number is unchanged.
CREATE TABLE note_list_versions (
    therapist_id BIGINT PRIMARY KEY NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);

CREATE FUNCTION bump_note_list_version(therapist BIGINT) RETURNS void AS $$
    INSERT INTO note_list_versions (therapist_id, version) VALUES (therapist, 1)
        ON CONFLICT (therapist_id) DO UPDATE SET version = note_list_versions.version + 1;
$$ LANGUAGE sql;

CREATE FUNCTION notes_list_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM bump_note_list_version(NEW.therapist_id);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_note_list_version(OLD.therapist_id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER notes_list_version AFTER INSERT OR UPDATE OR DELETE ON notes
    FOR EACH ROW EXECUTE FUNCTION notes_list_version();
