ALTER TABLE therapists DROP COLUMN data_format;
