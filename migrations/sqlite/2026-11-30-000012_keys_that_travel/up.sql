-- Keys that travel (SECURITY.md): therapist key pairs, client keys and
-- their envelopes, pins, supervision, co-signatures, hand-overs and the
-- professional will. Only ids, times, statuses and public keys are plain.

-- Each therapist's X25519 key pair: the public key in the clear (its
-- fingerprint is shown in the app), the private key sealed under DK.
-- Made at the next sign-in of a therapist who has none.
ALTER TABLE therapists ADD COLUMN public_key BLOB;
ALTER TABLE therapists ADD COLUMN private_key_sealed BLOB;
-- Associate (pre-licensed, needs a supervisor) or licensed; set by the
-- administrator.
ALTER TABLE therapists ADD COLUMN licence_level TEXT NOT NULL DEFAULT 'licensed'
    CHECK (licence_level IN ('associate', 'licensed'));
-- Whether the practice asks every therapist to name a records custodian.
ALTER TABLE practice ADD COLUMN require_custodian BOOLEAN NOT NULL DEFAULT FALSE;

-- Who wrote a note (and each earlier version): their DK seals its private
-- process note, which stays theirs when the client moves to a colleague.
ALTER TABLE notes ADD COLUMN author_id BIGINT NOT NULL DEFAULT 0;
UPDATE notes SET author_id = therapist_id;
ALTER TABLE note_versions ADD COLUMN author_id BIGINT NOT NULL DEFAULT 0;
UPDATE note_versions SET author_id = therapist_id;

-- The version of the client's key new writes use (0: none yet; the
-- client's data is still under the owner's DK until their next sign-in).
ALTER TABLE clients ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0;

-- Every version of every client's key, once per holder and purpose:
-- 'owner' rows are sealed under the holder's DK; the others are HPKE
-- envelopes from sender to holder ('supervision', 'custodian' (used only
-- once released), 'transfer' (until accepted)).
CREATE TABLE client_keys (
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    holder_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('owner', 'supervision', 'custodian', 'transfer')),
    sender_id BIGINT NOT NULL,
    sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, version, holder_id, purpose)
);
CREATE INDEX client_keys_holder ON client_keys (holder_id, purpose, client_id);

-- Moves whenever any client key row a therapist holds is written or
-- removed: the session keeps the (sealed) rows it loaded in memory and
-- reads them again only when this number changed, so a page pays no extra
-- query for its keys. It says how often sharing changes, nothing more.
ALTER TABLE therapists ADD COLUMN key_list_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER client_keys_version_insert AFTER INSERT ON client_keys BEGIN
    UPDATE therapists SET key_list_version = key_list_version + 1 WHERE id = NEW.holder_id;
END;

CREATE TRIGGER client_keys_version_update AFTER UPDATE ON client_keys BEGIN
    UPDATE therapists SET key_list_version = key_list_version + 1 WHERE id = NEW.holder_id;
    UPDATE therapists SET key_list_version = key_list_version + 1 WHERE id = OLD.holder_id;
END;

CREATE TRIGGER client_keys_version_delete AFTER DELETE ON client_keys BEGIN
    UPDATE therapists SET key_list_version = key_list_version + 1 WHERE id = OLD.holder_id;
END;


-- A therapist's record of the public key they confirmed for a colleague
-- (sealed under their DK): a later share to another key is refused.
CREATE TABLE key_pins (
    owner_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    subject_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    PRIMARY KEY (owner_id, subject_id)
);

-- An associate's supervisor. Envelopes are made by the associate's own
-- session (only it holds the keys), at once or at their next sign-in;
-- ending one deletes them and rotates the client keys.
CREATE TABLE supervisions (
    id INTEGER PRIMARY KEY NOT NULL,
    supervisee_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    supervisor_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    named_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    shared_at BIGINT,
    ended_at BIGINT,
    rotated_at BIGINT,
    -- The associate's own consent, sealed under their DK (supervisor,
    -- fingerprint, row): only then is anything shared, so neither the
    -- administrator who named a supervisor nor whoever writes the database
    -- can make the associate's session share with someone they did not
    -- accept.
    grant_sealed BLOB
);
CREATE UNIQUE INDEX supervisions_one_open ON supervisions (supervisee_id) WHERE ended_at IS NULL;
CREATE INDEX supervisions_supervisor ON supervisions (supervisor_id, ended_at);

-- A supervisor's co-signature of a signed note, or its return with a
-- comment (sealed under the client's key, bound to the note).
CREATE TABLE note_reviews (
    id INTEGER PRIMARY KEY NOT NULL,
    note_id BIGINT NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    supervisor_id BIGINT NOT NULL REFERENCES therapists (id),
    action TEXT NOT NULL CHECK (action IN ('cosign', 'return')),
    comment BLOB,
    written_as TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX note_reviews_note ON note_reviews (note_id, created_at);

-- A professional will: the colleague who may ask for the records, and how
-- long the therapist has to refuse.
CREATE TABLE custodians (
    therapist_id BIGINT PRIMARY KEY NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    custodian_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    waiting_days INTEGER NOT NULL CHECK (waiting_days BETWEEN 1 AND 30),
    fingerprint TEXT NOT NULL,
    named_at BIGINT NOT NULL,
    -- The therapist's own consent, sealed under their DK (as for
    -- supervisions).
    grant_sealed BLOB
);
CREATE TABLE custody_requests (
    id INTEGER PRIMARY KEY NOT NULL,
    therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    custodian_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
    requested_at BIGINT NOT NULL,
    release_at BIGINT NOT NULL,
    refused_at BIGINT,
    cancelled_at BIGINT
);
CREATE INDEX custody_requests_therapist ON custody_requests (therapist_id, custodian_id);

-- A client offered to a colleague, and who has owned each client.
CREATE TABLE transfers (
    id INTEGER PRIMARY KEY NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    from_id BIGINT NOT NULL REFERENCES therapists (id),
    to_id BIGINT NOT NULL REFERENCES therapists (id),
    offered_by BIGINT NOT NULL,
    offered_at BIGINT NOT NULL,
    accepted_at BIGINT,
    declined_at BIGINT,
    cancelled_at BIGINT
);
CREATE INDEX transfers_to ON transfers (to_id, accepted_at);
CREATE INDEX transfers_client ON transfers (client_id, offered_at);
