-- Search and the caseload chart read every note's plain columns; an index
-- that includes them allows index-only scans (see docs/PERFORMANCE.md).
DROP INDEX notes_therapist_date;
CREATE INDEX notes_therapist_list ON notes (therapist_id, session_date, created_at)
    INCLUDE (id, client_id, format, status, revision, updated_at);
