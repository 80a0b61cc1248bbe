ALTER TABLE addenda DROP COLUMN written_as;
ALTER TABLE notes DROP COLUMN signed_as;
ALTER TABLE practice DROP COLUMN date_style;
ALTER TABLE therapists DROP COLUMN licence;
ALTER TABLE therapists DROP COLUMN credentials;
