//! The audit trail: append-only, hash-chained, ids and actions only.
//!
//! Each row's `hash` covers its own fields and the previous row's hash
//! (`prev_hash`), so editing or deleting a row breaks the chain at the next
//! row, which [`verify`] reports. `prev_hash` is unique: two writers racing
//! for the same tail collide, and the loser retries on the new tail.
//! (Truncating the newest rows leaves a valid, shorter chain; anchoring the
//! head elsewhere is future work noted in docs/ARCHITECTURE.md.)

pub mod routes;

use diesel::prelude::*;

use crate::crypto::hash_parts;
use crate::db::schema::audit_events;
use crate::db::{DbConn, is_unique_violation, now};
use crate::ids::TherapistId;

/// What happened. The strings are stored; never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The first account was created.
    Setup,
    /// A sign-in succeeded.
    LoginOk,
    /// A sign-in failed (wrong password or unknown email).
    LoginFailed,
    /// A sign-in was refused because the account or address is locked.
    LoginLocked,
    /// A therapist signed out.
    Logout,
    /// A session ended by idle timeout or age.
    SessionExpired,
    /// The recovery code was confirmed as stored.
    RecoveryCodeStored,
    /// A request named a record that is not the therapist's (answered 404).
    AccessDenied,
    /// A client record was viewed.
    ClientView,
    /// A client was added.
    ClientCreate,
    /// A client record was changed.
    ClientEdit,
    /// A client was archived.
    ClientArchive,
    /// A client was brought back from the archive.
    ClientUnarchive,
    /// A client was deleted permanently.
    ClientDelete,
    /// A note was viewed.
    NoteView,
    /// A note was written.
    NoteCreate,
    /// A draft was saved again.
    NoteEdit,
    /// A note was signed.
    NoteSign,
    /// An addendum was added to a signed note.
    NoteAddendum,
    /// A draft was deleted.
    NoteDelete,
    /// The caseload was searched or filtered (the words are not recorded).
    NoteSearch,
    /// A handout was shown ready to print (subject: the client, if any).
    HandoutPrint,
    /// A handout was recorded as given to a client (subject: the record).
    HandoutGiven,
    /// A practice handout was imported, copied or edited.
    HandoutSave,
    /// A therapist changed their password.
    PasswordChange,
    /// A therapist replaced their recovery code.
    RecoveryCodeNew,
    /// A recovery code was used to set a new password.
    RecoveryUse,
    /// A therapist ended one or more of their sessions.
    SessionEnd,
    /// Two-factor sign-in was turned on.
    TotpEnable,
    /// Two-factor sign-in was turned off.
    TotpDisable,
    /// Two-factor sign-in moved to a new authenticator.
    TotpReplace,
    /// The administrator invited a colleague (subject: the invite).
    InviteCreate,
    /// An invitation was accepted (subject: the invite).
    InviteAccept,
    /// The administrator disabled an account (subject: the account).
    AccountDisable,
    /// The administrator enabled an account again (subject: the account).
    AccountEnable,
    /// A client's record was exported or printed (subject: the client).
    ClientExport,
    /// A therapist exported their whole caseload (plaintext).
    CaseloadExport,
    /// A caseload export was imported into this account.
    CaseloadImport,
    /// `tearsheet backup` copied the database (no therapist: the operator).
    Backup,
}

impl Action {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::LoginOk => "login.ok",
            Self::LoginFailed => "login.failed",
            Self::LoginLocked => "login.locked",
            Self::Logout => "logout",
            Self::SessionExpired => "session.expired",
            Self::RecoveryCodeStored => "recovery_code.stored",
            Self::AccessDenied => "access.denied",
            Self::ClientView => "client.view",
            Self::ClientCreate => "client.create",
            Self::ClientEdit => "client.edit",
            Self::ClientArchive => "client.archive",
            Self::ClientUnarchive => "client.unarchive",
            Self::ClientDelete => "client.delete",
            Self::NoteView => "note.view",
            Self::NoteCreate => "note.create",
            Self::NoteEdit => "note.edit",
            Self::NoteSign => "note.sign",
            Self::NoteAddendum => "note.addendum",
            Self::NoteDelete => "note.delete",
            Self::NoteSearch => "note.search",
            Self::HandoutPrint => "handout.print",
            Self::HandoutGiven => "handout.given",
            Self::HandoutSave => "handout.save",
            Self::PasswordChange => "password.change",
            Self::RecoveryCodeNew => "recovery_code.new",
            Self::RecoveryUse => "recovery.use",
            Self::SessionEnd => "session.end",
            Self::TotpEnable => "totp.enable",
            Self::TotpDisable => "totp.disable",
            Self::TotpReplace => "totp.replace",
            Self::InviteCreate => "invite.create",
            Self::InviteAccept => "invite.accept",
            Self::AccountDisable => "account.disable",
            Self::AccountEnable => "account.enable",
            Self::ClientExport => "client.export",
            Self::CaseloadExport => "caseload.export",
            Self::CaseloadImport => "caseload.import",
            Self::Backup => "backup",
        }
    }
}

/// A stored audit row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    /// Position in the chain.
    pub id: i64,
    /// When, in Unix seconds.
    pub at: i64,
    /// Whose event (none for a failed sign-in to an unknown email).
    pub therapist_id: Option<i64>,
    /// What happened.
    pub action: String,
    /// The record acted on, if any (an id, never content).
    pub subject_id: Option<i64>,
    /// The previous row's hash.
    pub prev_hash: Vec<u8>,
    /// This row's hash.
    pub hash: Vec<u8>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent<'a> {
    at: i64,
    therapist_id: Option<i64>,
    action: &'a str,
    subject_id: Option<i64>,
    prev_hash: &'a [u8],
    hash: &'a [u8],
}

const GENESIS: [u8; 32] = [0; 32];

fn opt_bytes(v: Option<i64>) -> [u8; 9] {
    let mut out = [0u8; 9];
    if let Some(v) = v {
        out[0] = 1;
        out[1..].copy_from_slice(&v.to_be_bytes());
    }
    out
}

fn row_hash(
    prev: &[u8],
    at: i64,
    therapist: Option<i64>,
    action: &str,
    subject: Option<i64>,
) -> [u8; 32] {
    hash_parts(&[
        b"tearsheet/v1/audit",
        prev,
        &at.to_be_bytes(),
        &opt_bytes(therapist),
        action.as_bytes(),
        &opt_bytes(subject),
    ])
}

/// The advisory lock key for appends ("tsaudit" in ASCII).
const APPEND_LOCK: i64 = 0x0074_7361_7564_6974;

/// Append an event. Safe inside or outside a transaction: each attempt runs
/// in its own write transaction or savepoint and holds the append lock until
/// the outermost transaction ends, so writers take turns at the chain head.
/// A collision (an app server of an older version, without the lock) is
/// still retried without aborting the caller's work.
pub fn record(
    conn: &mut DbConn,
    therapist: Option<TherapistId>,
    action: Action,
    subject: Option<i64>,
) -> QueryResult<()> {
    let therapist = therapist.map(|t| t.0);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = crate::db::write_transaction(conn, |conn| {
            crate::db::lock_for_append(conn, APPEND_LOCK)?;
            let prev: Vec<u8> = audit_events::table
                .select(audit_events::hash)
                .order(audit_events::id.desc())
                .first(conn)
                .optional()?
                .unwrap_or_else(|| GENESIS.to_vec());
            let at = now();
            let hash = row_hash(&prev, at, therapist, action.as_str(), subject);
            diesel::insert_into(audit_events::table)
                .values(NewAuditEvent {
                    at,
                    therapist_id: therapist,
                    action: action.as_str(),
                    subject_id: subject,
                    prev_hash: &prev,
                    hash: &hash,
                })
                .execute(conn)
        });
        match result {
            Ok(_) => return Ok(()),
            Err(err) if is_unique_violation(&err) && attempts < 20 => continue,
            Err(err) => return Err(err),
        }
    }
}

/// The first place the chain is broken.
#[derive(Debug, PartialEq, Eq)]
pub struct Break {
    /// The id of the first row that does not fit.
    pub row_id: i64,
    /// Why it does not.
    pub reason: &'static str,
}

/// Walk the whole chain in order; `Ok(None)` when every row fits.
pub fn verify(conn: &mut DbConn) -> QueryResult<(u64, Option<Break>)> {
    let mut prev = GENESIS.to_vec();
    let mut last_id = 0i64;
    let mut checked = 0u64;
    loop {
        let batch: Vec<AuditEvent> = audit_events::table
            .filter(audit_events::id.gt(last_id))
            .order(audit_events::id.asc())
            .limit(1000)
            .select(AuditEvent::as_select())
            .load(conn)?;
        if batch.is_empty() {
            return Ok((checked, None));
        }
        for row in batch {
            if row.prev_hash != prev {
                return Ok((
                    checked,
                    Some(Break {
                        row_id: row.id,
                        reason: "does not follow the row before it (a row was removed or reordered)",
                    }),
                ));
            }
            let expected = row_hash(
                &row.prev_hash,
                row.at,
                row.therapist_id,
                &row.action,
                row.subject_id,
            );
            if row.hash != expected {
                return Ok((
                    checked,
                    Some(Break {
                        row_id: row.id,
                        reason: "its contents do not match its hash (the row was edited)",
                    }),
                ));
            }
            prev = row.hash;
            last_id = row.id;
            checked += 1;
        }
    }
}

/// A therapist's own events, newest first.
pub fn for_therapist(
    conn: &mut DbConn,
    therapist: TherapistId,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::therapist_id.eq(therapist.0))
        .order(audit_events::id.desc())
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// Record that a therapist asked for a record that is not theirs (or does
/// not exist), and answer 404 either way.
pub async fn denied(
    state: &crate::web::AppState,
    therapist: TherapistId,
    subject: Option<i64>,
) -> crate::web::AppError {
    let result = state
        .db(move |conn| {
            Ok(record(
                conn,
                Some(therapist),
                Action::AccessDenied,
                subject,
            )?)
        })
        .await;
    match result {
        Ok(()) => crate::web::AppError::not_found(),
        Err(err) => err,
    }
}

/// Record an event from a handler.
pub async fn log(
    state: &crate::web::AppState,
    therapist: TherapistId,
    action: Action,
    subject: Option<i64>,
) -> Result<(), crate::web::AppError> {
    state
        .db(move |conn| Ok(record(conn, Some(therapist), action, subject)?))
        .await
}
