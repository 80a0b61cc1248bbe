DROP TABLE inbox_drafts;
DROP TABLE inbox_tokens;
