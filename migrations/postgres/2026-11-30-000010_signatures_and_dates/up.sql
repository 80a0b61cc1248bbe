-- A therapist's professional details, shown where they sign: credentials
-- ("LCSW", "PhD, Licensed Psychologist") and, optionally, a licence
-- number. About the therapist, not a client, so plain like their name.
ALTER TABLE therapists ADD COLUMN credentials TEXT NOT NULL DEFAULT '';
ALTER TABLE therapists ADD COLUMN licence TEXT NOT NULL DEFAULT '';

-- How the practice writes dates and times: 'intl' (26 Nov 2026, 07:25) or
-- 'us' (Nov 26, 2026, 7:25 AM).
ALTER TABLE practice ADD COLUMN date_style TEXT NOT NULL DEFAULT 'intl';

-- Who signed a note, as they were then (name, credentials, licence), and
-- who wrote an addendum. Sealed into the note's signature hash, so a name
-- changed in the database is caught.
ALTER TABLE notes ADD COLUMN signed_as TEXT;
ALTER TABLE addenda ADD COLUMN written_as TEXT;
