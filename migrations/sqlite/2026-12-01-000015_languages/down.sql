ALTER TABLE practice_handouts DROP COLUMN lang;
ALTER TABLE handouts_given DROP COLUMN lang;
ALTER TABLE clients DROP COLUMN language;
