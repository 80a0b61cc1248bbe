-- The practice: one row, made at setup. Its primary key makes a second,
-- concurrent setup fail instead of creating two administrators.
CREATE TABLE practice (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    created_at BIGINT NOT NULL
);

-- Therapists' accounts. Nothing here lets a password guess be checked for less
-- than one Argon2id run: auth_verifier is a hash of a key derived from it.
CREATE TABLE therapists (
    id INTEGER PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'therapist')),
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    kdf_salt BLOB NOT NULL,
    kdf_m_cost INTEGER NOT NULL,
    kdf_t_cost INTEGER NOT NULL,
    kdf_p_cost INTEGER NOT NULL,
    auth_verifier BLOB NOT NULL,
    dk_sealed_password BLOB NOT NULL,
    dk_sealed_recovery BLOB NOT NULL,
    recovery_salt BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT
);

-- Sessions hold a hash of the cookie's id and DK sealed under a key only the
-- cookie's secret gives.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    csrf_token TEXT NOT NULL,
    dk_sealed BLOB NOT NULL,
    pending_recovery_code BLOB,
    user_agent TEXT
);
CREATE INDEX sessions_therapist ON sessions (therapist_id);

-- Failed sign-in counters, keyed by a hash of the email or the client address.
CREATE TABLE login_throttle (
    key_hash BLOB PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    first_failure_at BIGINT NOT NULL,
    locked_until BIGINT
);

-- Append-only audit trail. Each row holds the hash of the previous one; the
-- unique prev_hash makes two writers racing for the same tail collide.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at BIGINT NOT NULL,
    therapist_id BIGINT,
    action TEXT NOT NULL,
    subject_id BIGINT,
    prev_hash BLOB NOT NULL UNIQUE,
    hash BLOB NOT NULL
);
CREATE INDEX audit_events_therapist ON audit_events (therapist_id, id);
