-- Search and the caseload chart read every note's plain columns. With them
-- all in one index, SQLite answers from the index alone instead of reading
-- each row, sealed blobs and all (measured in docs/PERFORMANCE.md).
DROP INDEX notes_therapist_date;
CREATE INDEX notes_therapist_list ON notes
    (therapist_id, session_date, created_at, id, client_id, format, status, revision, updated_at);
