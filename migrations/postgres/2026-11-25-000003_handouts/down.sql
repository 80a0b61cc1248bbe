DROP TABLE handouts_given;
DROP TABLE practice_handouts;
ALTER TABLE practice DROP COLUMN name;
