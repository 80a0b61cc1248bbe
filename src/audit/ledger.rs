//! The ledger: an append-only, hash-chained record of what happened, with
//! ids and actions only, never content.
//!
//! Each row's `hash` covers its own fields and the previous row's hash
//! (`prev_hash`), so editing or deleting a row breaks the chain at the next
//! row, which [`verify`] reports. `prev_hash` is unique: two writers racing
//! for the same tail collide, and the loser retries on the new tail.
//! (Truncating the newest rows leaves a valid, shorter chain; anchoring the
//! head elsewhere is future work noted in docs/ARCHITECTURE.md.)

use diesel::prelude::*;

use crate::crypto::hash_parts;
use crate::db::schema::audit_events;
use crate::db::{DbConn, is_unique_violation, now};
use crate::ids::{AuditEventId, TherapistId};

macro_rules! actions {
    ($($(#[$doc:meta])* $name:ident = ($code:literal, $label:literal),)*) => {
        /// What happened. The codes are stored; never rename one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Action {
            $($(#[$doc])* $name,)*
        }

        impl Action {
            /// Every action, in the order the trail's filter offers them.
            pub const ALL: &[Action] = &[$(Action::$name,)*];

            /// The stored code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => $code,)*
                }
            }

            /// What the trail page calls it.
            pub fn label(self) -> &'static str {
                match self {
                    $(Self::$name => $label,)*
                }
            }

            /// The action with this stored code.
            pub fn parse(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.as_str() == code)
            }
        }
    };
}

actions! {
    /// The first account was created.
    Setup = ("setup", "Practice set up"),
    /// A sign-in succeeded.
    LoginOk = ("login.ok", "Signed in"),
    /// A sign-in failed (wrong password or unknown email).
    LoginFailed = ("login.failed", "Sign-in failed"),
    /// A sign-in was refused because the account or address is locked.
    LoginLocked = ("login.locked", "Sign-in locked"),
    /// A therapist signed out.
    Logout = ("logout", "Signed out"),
    /// A session ended by idle timeout or age.
    SessionExpired = ("session.expired", "Session expired"),
    /// The recovery code was confirmed as stored.
    RecoveryCodeStored = ("recovery_code.stored", "Recovery code stored"),
    /// A request named a record that is not the therapist's (answered 404).
    AccessDenied = ("access.denied", "Asked for a record that is not theirs"),
    /// A client record was viewed.
    ClientView = ("client.view", "Client viewed"),
    /// A client was added.
    ClientCreate = ("client.create", "Client added"),
    /// A client record was changed.
    ClientEdit = ("client.edit", "Client changed"),
    /// A client was archived.
    ClientArchive = ("client.archive", "Client archived"),
    /// A client was brought back from the archive.
    ClientUnarchive = ("client.unarchive", "Client back from the archive"),
    /// A client was deleted permanently.
    ClientDelete = ("client.delete", "Client deleted"),
    /// A note was viewed.
    NoteView = ("note.view", "Note viewed"),
    /// A note was written.
    NoteCreate = ("note.create", "Note written"),
    /// A draft was saved again.
    NoteEdit = ("note.edit", "Draft saved"),
    /// A note was signed.
    NoteSign = ("note.sign", "Note signed"),
    /// An addendum was added to a signed note.
    NoteAddendum = ("note.addendum", "Addendum added"),
    /// A draft was deleted.
    NoteDelete = ("note.delete", "Draft deleted"),
    /// A measure (PHQ-9, GAD-7) was recorded (subject: the client).
    MeasureRecord = ("measure.record", "Measure recorded"),
    /// A measure was marked entered in error (subject: the measure).
    MeasureError = ("measure.error", "Measure marked entered in error"),
    /// The caseload was searched or filtered (the words are not recorded).
    NoteSearch = ("note.search", "Notes searched"),
    /// A handout was shown ready to print (subject: the client, if any).
    HandoutPrint = ("handout.print", "Handout printed"),
    /// A handout was recorded as given to a client (subject: the record).
    HandoutGiven = ("handout.given", "Handout given"),
    /// A record of a handout given was taken back just after (subject: the record).
    HandoutUndo = ("handout.undo", "Handout record taken back"),
    /// A private link to a given handout was made (subject: the record).
    HandoutLinkCreate = ("handout.link_create", "Private handout link made"),
    /// A private link was opened, by whoever had it (subject: the record).
    HandoutLinkOpen = ("handout.link_open", "Private handout link opened"),
    /// A private link was turned off (subject: the record).
    HandoutLinkRevoke = ("handout.link_revoke", "Private handout link turned off"),
    /// A handout version's PEMAT-P self-assessment was saved.
    HandoutAssess = ("handout.assess", "Handout quality assessed"),
    /// A practice handout was imported, copied or edited.
    HandoutSave = ("handout.save", "Practice handout saved"),
    /// A therapist changed their password.
    PasswordChange = ("password.change", "Password changed"),
    /// A therapist replaced their recovery code.
    RecoveryCodeNew = ("recovery_code.new", "New recovery code"),
    /// A recovery code was used to set a new password.
    RecoveryUse = ("recovery.use", "Recovery code used"),
    /// A therapist ended one or more of their sessions.
    SessionEnd = ("session.end", "Sessions ended"),
    /// Two-factor sign-in was turned on.
    TotpEnable = ("totp.enable", "Two-factor turned on"),
    /// Two-factor sign-in was turned off.
    TotpDisable = ("totp.disable", "Two-factor turned off"),
    /// Two-factor sign-in moved to a new authenticator.
    TotpReplace = ("totp.replace", "Two-factor moved to a new app"),
    /// The administrator invited a colleague (subject: the invite).
    InviteCreate = ("invite.create", "Colleague invited"),
    /// An invitation was accepted (subject: the invite).
    InviteAccept = ("invite.accept", "Invitation accepted"),
    /// The administrator disabled an account (subject: the account).
    AccountDisable = ("account.disable", "Account turned off"),
    /// The administrator enabled an account again (subject: the account).
    AccountEnable = ("account.enable", "Account turned on"),
    /// A publisher's pack key was trusted (subject: the key id's first 8 bytes).
    PackKeyTrust = ("pack.key_trust", "Pack publisher trusted"),
    /// A publisher's pack key was no longer trusted (subject: as above).
    PackKeyRemove = ("pack.key_remove", "Pack publisher no longer trusted"),
    /// A pack was uploaded (subject: the upload).
    PackUpload = ("pack.upload", "Pack uploaded"),
    /// An upload was refused (subject: none).
    PackRefused = ("pack.refused", "Pack refused"),
    /// An uploaded pack was removed (subject: the upload).
    PackRemove = ("pack.remove", "Pack removed"),
    /// A therapist made an inbox token (subject: the token).
    InboxTokenCreate = ("inbox.token_create", "Inbox token made"),
    /// A therapist revoked an inbox token (subject: the token).
    InboxTokenRevoke = ("inbox.token_revoke", "Inbox token revoked"),
    /// A tool posted a draft to the inbox (subject: the draft).
    InboxReceive = ("inbox.receive", "Draft received from a tool"),
    /// A post was refused because the account's public key is not the one
    /// its token was made for (changed in the database).
    InboxKeyMismatch = ("inbox.key_mismatch", "Draft refused: account key changed"),
    /// A draft from a tool became a draft note (subject: the inbox draft).
    InboxAccept = ("inbox.accept", "Draft from a tool accepted"),
    /// A draft from a tool was declined and deleted (subject: the draft).
    InboxDecline = ("inbox.decline", "Draft from a tool declined"),
    /// A client's record was exported or printed (subject: the client).
    ClientExport = ("client.export", "Client record exported"),
    /// A therapist exported their whole caseload (plaintext).
    CaseloadExport = ("caseload.export", "Caseload exported"),
    /// A caseload export was imported into this account.
    CaseloadImport = ("caseload.import", "Caseload imported"),
    /// `tearsheet backup` copied the database (no therapist: the operator).
    Backup = ("backup", "Backup taken"),
    /// A therapist changed their name, credentials or licence number.
    ProfileChange = ("profile.change", "Profile changed"),
    /// The administrator changed how the practice writes dates.
    PracticeSettings = ("practice.settings", "Practice settings changed"),
    /// A therapist's key pair was made (subject: the therapist).
    KeyPairMade = ("key.pair", "Key pair made"),
    /// Client keys were sealed to a colleague (subject: the colleague).
    EnvelopesMade = ("key.envelopes", "Client keys shared with a colleague"),
    /// Client keys were withdrawn from a colleague (subject: the colleague).
    EnvelopesWithdrawn = ("key.withdraw", "Client keys withdrawn from a colleague"),
    /// New client key versions were made after someone lost access.
    KeysRotated = ("key.rotate", "Client keys rotated"),
    /// A share was refused because a colleague's key changed (subject: them).
    KeyMismatch = ("key.mismatch", "Colleague's key changed; nothing shared"),
    /// The administrator marked an account associate or licensed.
    LicenceLevel = ("account.licence", "Licence level changed"),
    /// A supervisor was named (subject: the supervision).
    SupervisionNamed = ("supervision.name", "Supervisor named"),
    /// The supervisee's session shared their caseload with the supervisor.
    SupervisionShared = ("supervision.shared", "Caseload shared with supervisor"),
    /// A supervision ended (subject: the supervision).
    SupervisionEnd = ("supervision.end", "Supervision ended"),
    /// A supervisor co-signed a note (subject: the note).
    NoteCosign = ("note.cosign", "Note co-signed"),
    /// A supervisor returned a note with a comment (subject: the note).
    NoteReturn = ("note.return", "Note returned by supervisor"),
    /// A supervisor added a supervisory addendum (subject: the note).
    NoteSupervisoryAddendum = ("note.supervisory_addendum", "Supervisory addendum added"),
    /// A client was offered to a colleague (subject: the transfer).
    TransferOffer = ("transfer.offer", "Client offered to a colleague"),
    /// A colleague accepted a client (subject: the transfer).
    TransferAccept = ("transfer.accept", "Client taken over"),
    /// A colleague declined a client, or the offer was withdrawn.
    TransferDecline = ("transfer.decline", "Client hand-over declined or withdrawn"),
    /// A therapist named a records custodian (subject: the custodian).
    CustodianNamed = ("custodian.name", "Records custodian named"),
    /// A therapist removed their records custodian (subject: the custodian).
    CustodianRemoved = ("custodian.remove", "Records custodian removed"),
    /// A custodian asked for access (subject: the request).
    CustodyRequest = ("custody.request", "Custodian asked for access"),
    /// A custodian cancelled their request (subject: the request).
    CustodyCancel = ("custody.cancel", "Custodian's request cancelled"),
    /// The therapist refused a custodian's request (subject: the request).
    CustodyRefuse = ("custody.refuse", "Custodian's request refused"),
    /// A custodian read released records (subject: the client).
    CustodyRead = ("custody.read", "Custodian read a released record"),
}

/// Security events the administrator sees for the whole practice.
pub const PRACTICE_SECURITY: [Action; 10] = [
    Action::LoginOk,
    Action::LoginFailed,
    Action::LoginLocked,
    Action::InviteCreate,
    Action::InviteAccept,
    Action::AccountDisable,
    Action::AccountEnable,
    Action::PasswordChange,
    Action::RecoveryUse,
    Action::Backup,
];

/// A stored audit row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    /// Position in the chain.
    pub id: AuditEventId,
    /// When, in Unix seconds.
    pub at: i64,
    /// Whose event (none for a failed sign-in to an unknown email, or the
    /// server's operator).
    pub therapist_id: Option<TherapistId>,
    /// What happened (an [`Action`] code).
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
    therapist_id: Option<TherapistId>,
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
    therapist: Option<TherapistId>,
    action: &str,
    subject: Option<i64>,
) -> [u8; 32] {
    hash_parts(&[
        b"tearsheet/v1/audit",
        prev,
        &at.to_be_bytes(),
        &opt_bytes(therapist.map(|t| t.0)),
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
    /// The first row that does not fit.
    pub row_id: AuditEventId,
    /// Why it does not.
    pub reason: &'static str,
}

/// Walk the whole chain in order; `Ok(None)` when every row fits.
pub fn verify(conn: &mut DbConn) -> QueryResult<(u64, Option<Break>)> {
    let mut prev = GENESIS.to_vec();
    let mut last_id = AuditEventId(0);
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

/// Which events a trail page shows.
pub struct TrailFilter {
    /// Whose events: this therapist's own.
    pub therapist: TherapistId,
    /// Also every therapist's [`PRACTICE_SECURITY`] events (administrators).
    pub practice: bool,
    /// Only this action.
    pub action: Option<Action>,
    /// From this time (Unix seconds), inclusive.
    pub from: Option<i64>,
    /// Before this time (Unix seconds).
    pub before: Option<i64>,
}

/// One page of a trail, newest first: `limit` events after skipping
/// `offset`.
pub fn trail(
    conn: &mut DbConn,
    filter: &TrailFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let mut query = audit_events::table.into_boxed();
    if filter.practice {
        let codes: Vec<&str> = PRACTICE_SECURITY.iter().map(|a| a.as_str()).collect();
        query = query.filter(
            audit_events::action
                .eq_any(codes)
                .or(audit_events::therapist_id.eq(filter.therapist)),
        );
    } else {
        query = query.filter(audit_events::therapist_id.eq(filter.therapist));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_events::action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::at.ge(from));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_events::at.lt(before));
    }
    query
        .order(audit_events::id.desc())
        .limit(limit)
        .offset(offset)
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
