-- Which form this therapist's sealed data is in. 1: as first written (blob
-- version 1, which binds no owning record). 2: every sealed value that
-- belongs to another record (a note to its client, an addendum or an
-- earlier version to its note, a given handout to its client) is sealed as
-- blob version 2, bound to that record. Data moves from 1 to 2 when its
-- owner signs in (the only time their key is at hand).
ALTER TABLE therapists ADD COLUMN data_format INTEGER NOT NULL DEFAULT 1;
