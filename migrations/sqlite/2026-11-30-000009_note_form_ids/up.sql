-- The one-time id of the form a note was first saved from (random, not
-- about anyone). A form sent twice (Back, then Save again) finds the note
-- it already made instead of making a second one.
ALTER TABLE notes ADD COLUMN form_id TEXT;
CREATE UNIQUE INDEX notes_form_id ON notes (therapist_id, form_id);
