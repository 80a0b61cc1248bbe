DROP TABLE invites;
ALTER TABLE sessions DROP COLUMN needs_second_factor;
ALTER TABLE therapists DROP COLUMN backup_codes;
ALTER TABLE therapists DROP COLUMN totp_last_step;
ALTER TABLE therapists DROP COLUMN totp_secret;
