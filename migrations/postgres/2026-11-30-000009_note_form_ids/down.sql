DROP INDEX notes_form_id;
ALTER TABLE notes DROP COLUMN form_id;
