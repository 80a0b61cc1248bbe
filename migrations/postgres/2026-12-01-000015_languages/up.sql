-- Handouts in the client's language: a client's preferred language (a
-- BCP 47 tag, sealed under the client's key like their other fields; NULL
-- for records made before, read as not set), and the language a given
-- handout was printed in (plain, like its slug, which names it anyway), so
-- a reprint is in the same language after the handout is gone; and the
-- language of each of the practice's own handouts.

ALTER TABLE clients ADD COLUMN language BYTEA;
ALTER TABLE handouts_given ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
ALTER TABLE practice_handouts ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
