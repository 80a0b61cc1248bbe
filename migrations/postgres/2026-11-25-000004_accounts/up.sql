-- Two-factor sign-in: the TOTP secret and the backup codes are sealed under
-- the therapist's DK; the last accepted time step is plain (it says only
-- when a code was used, and stops replays).
ALTER TABLE therapists ADD COLUMN totp_secret BYTEA;
ALTER TABLE therapists ADD COLUMN totp_last_step BIGINT;
ALTER TABLE therapists ADD COLUMN backup_codes BYTEA;

-- A session made by a right password that still waits for its code.
ALTER TABLE sessions ADD COLUMN needs_second_factor BOOLEAN NOT NULL DEFAULT FALSE;

-- One-time invitations to join the practice. Only a hash of the token is
-- stored; the link carries the token itself.
CREATE TABLE invites (
    id BIGINT PRIMARY KEY NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'therapist')),
    created_by BIGINT NOT NULL REFERENCES therapists (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
