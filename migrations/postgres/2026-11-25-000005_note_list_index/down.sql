DROP INDEX notes_therapist_list;
CREATE INDEX notes_therapist_date ON notes (therapist_id, session_date);
