//! Server-side sessions.
//!
//! The row holds a hash of the cookie's id, the CSRF token and DK sealed under
//! a key only the cookie's secret gives; no process-local state, so several
//! app servers on one PostgreSQL serve the same session. `last_seen_at` is
//! written at most about once a minute per session, not on every page view.

use diesel::prelude::*;

use crate::audit::{self, Action};
use crate::config::Config;
use crate::crypto::recovery::RecoveryCode;
use crate::crypto::session::SessionToken;
use crate::crypto::{DataKey, Place, SessionKey, open, random_token, seal};
use crate::db::schema::{practice, sessions, therapists};
use crate::db::{DbConn, now};
use crate::ids::{SessionId, TherapistId};
use crate::web::dates::DateStyle;

use super::account::Role;

/// A signed-in therapist's session, as a request sees it.
pub struct CurrentSession {
    /// The session's row.
    pub id: SessionId,
    /// Who is signed in.
    pub therapist: TherapistId,
    /// Their display name.
    pub display_name: String,
    /// Their role.
    pub role: Role,
    /// The synchronizer token every form of this session must carry.
    pub csrf_token: String,
    /// The therapist's data key, for their own sealed settings.
    pub dk: DataKey,
    /// The therapist's keyring: DK, and the client keys they may use (their
    /// own clients', and colleagues' shared with them).
    pub keys: std::sync::Arc<crate::crypto::Keys>,
    /// A recovery code shown at setup and not yet confirmed as stored.
    pub pending_recovery: Option<RecoveryCode>,
    /// A right password was given but the two-factor code is still due.
    pub needs_second_factor: bool,
    /// How the practice writes dates.
    pub dates: DateStyle,
}

/// What a cookie turned out to be.
pub enum Lookup {
    /// A live session.
    Active(CurrentSession),
    /// A session of this therapist that just ended by idle time or age
    /// (now deleted).
    Expired(TherapistId),
    /// No such session (never existed, signed out, or tampered with).
    Missing,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id: SessionId,
    token_hash: &'a [u8],
    therapist_id: TherapistId,
    created_at: i64,
    last_seen_at: i64,
    csrf_token: &'a str,
    dk_sealed: &'a [u8],
    pending_recovery_code: Option<&'a [u8]>,
    user_agent: Option<&'a str>,
    needs_second_factor: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id: SessionId,
    therapist_id: TherapistId,
    created_at: i64,
    last_seen_at: i64,
    csrf_token: String,
    dk_sealed: Vec<u8>,
    pending_recovery_code: Option<Vec<u8>>,
    needs_second_factor: bool,
}

/// How long a session may wait for its two-factor code.
pub const SECOND_FACTOR_WINDOW: i64 = 5 * 60;

fn place(therapist: TherapistId, session: SessionId, column: &'static str) -> Place<'static> {
    Place::new(therapist.0, "sessions", column, session.0)
}

/// Start a new session (at every sign-in: no fixation). Returns the token for the cookie.
pub fn create(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    pending_recovery: Option<&RecoveryCode>,
    user_agent: Option<&str>,
) -> QueryResult<SessionToken> {
    create_with(conn, therapist, dk, pending_recovery, user_agent, false)
}

/// Start a session, possibly one that still waits for a two-factor code.
pub fn create_with(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    pending_recovery: Option<&RecoveryCode>,
    user_agent: Option<&str>,
    needs_second_factor: bool,
) -> QueryResult<SessionToken> {
    let token = SessionToken::generate();
    let key = token.key();
    let id = SessionId::generate();
    let at = now();
    let dk_sealed = dk.seal_under(&key, &place(therapist, id, "dk_sealed"));
    let pending = pending_recovery.map(|code| {
        seal(
            &key,
            &place(therapist, id, "pending_recovery_code"),
            code.as_bytes(),
        )
    });
    let user_agent = user_agent.map(|ua| truncate(ua, 300));
    diesel::insert_into(sessions::table)
        .values(NewSession {
            id,
            token_hash: &token.id_hash(),
            therapist_id: therapist,
            created_at: at,
            last_seen_at: at,
            csrf_token: &random_token(),
            dk_sealed: &dk_sealed,
            pending_recovery_code: pending.as_deref(),
            user_agent: user_agent.as_deref(),
            needs_second_factor,
        })
        .execute(conn)?;
    Ok(token)
}

/// Sign a therapist in: a new session (at every sign-in, so no fixation),
/// the sign-in recorded on the account and in the audit trail. Returns the
/// token for the cookie. Setup, an accepted invitation, recovery and the
/// sign-in page all end here.
pub fn sign_in(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    pending_recovery: Option<&RecoveryCode>,
    user_agent: Option<&str>,
) -> QueryResult<SessionToken> {
    let token = create(conn, therapist, dk, pending_recovery, user_agent)?;
    super::account::mark_login(conn, therapist, now())?;
    audit::record(conn, Some(therapist), Action::LoginOk, None)?;
    // Only now is DK at hand: make what needs it (a key pair, keys for new
    // clients, envelopes owed to colleagues, rotations owed).
    crate::sharing::grants::at_sign_in(conn, therapist, dk)?;
    Ok(token)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Find the session a cookie names, end it if it has expired, and open its DK.
pub fn load(
    conn: &mut DbConn,
    token: &SessionToken,
    config: &Config,
    memories: &crate::web::session_memory::SessionMemories,
) -> QueryResult<Lookup> {
    type Found = (
        SessionRow,
        (String, String, String, Option<Vec<u8>>, i64),
        Option<String>,
    );
    let found: Option<Found> = sessions::table
        .inner_join(therapists::table)
        .filter(sessions::token_hash.eq(token.id_hash().as_slice()))
        .select((
            SessionRow::as_select(),
            (
                therapists::display_name,
                therapists::role,
                therapists::status,
                therapists::private_key_sealed,
                therapists::key_list_version,
            ),
            practice::table
                .select(practice::date_style)
                .limit(1)
                .single_value(),
        ))
        .first(conn)
        .optional()?;
    let Some((row, (display_name, role, status, private_key, key_version), date_style)) = found
    else {
        return Ok(Lookup::Missing);
    };
    let (id, therapist) = (row.id, row.therapist_id);
    let at = now();
    let idle = at - row.last_seen_at > config.idle_timeout.as_secs() as i64;
    let too_old = at - row.created_at > config.absolute_timeout.as_secs() as i64
        || (row.needs_second_factor && at - row.created_at > SECOND_FACTOR_WINDOW);
    if idle || too_old {
        end(conn, id)?;
        audit::record(conn, Some(therapist), Action::SessionExpired, Some(id.0))?;
        return Ok(Lookup::Expired(therapist));
    }
    if status != "active" {
        end_all(conn, therapist)?;
        return Ok(Lookup::Missing);
    }
    let key: SessionKey = token.key();
    let Ok(dk) = DataKey::open_from(&key, &place(therapist, id, "dk_sealed"), &row.dk_sealed)
    else {
        tracing::warn!(
            session = id.0,
            "session key did not open the session's DK; ending it"
        );
        end(conn, id)?;
        return Ok(Lookup::Missing);
    };
    let pending_recovery = row
        .pending_recovery_code
        .and_then(|blob| open(&key, &place(therapist, id, "pending_recovery_code"), &blob).ok())
        .and_then(|raw| RecoveryCode::from_raw(&raw));
    let keys = std::sync::Arc::new(crate::sharing::keys::load_for_session(
        conn,
        (id, memories),
        therapist,
        dk.duplicate(),
        private_key,
        (key_version, config.custody_clock.now()),
    )?);
    if at - row.last_seen_at >= config.last_seen_granularity() {
        diesel::update(sessions::table.find(id))
            .set(sessions::last_seen_at.eq(at))
            .execute(conn)?;
    }
    Ok(Lookup::Active(CurrentSession {
        id,
        therapist,
        display_name,
        role: Role::parse(&role),
        csrf_token: row.csrf_token,
        dk,
        keys,
        pending_recovery,
        needs_second_factor: row.needs_second_factor,
        dates: DateStyle::parse(date_style.as_deref().unwrap_or_default()),
    }))
}

/// The recovery code has been stored; stop showing it.
pub fn clear_pending_recovery(conn: &mut DbConn, id: SessionId) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::pending_recovery_code.eq(None::<Vec<u8>>))
        .execute(conn)
        .map(|_| ())
}

/// End one session (sign-out).
pub fn end(conn: &mut DbConn, id: SessionId) -> QueryResult<()> {
    diesel::delete(sessions::table.find(id))
        .execute(conn)
        .map(|_| ())
}

/// End every session of a therapist.
pub fn end_all(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::therapist_id.eq(therapist))).execute(conn)
}

/// Which of `ids` are sessions still alive (present and within both limits).
pub fn live(
    conn: &mut DbConn,
    ids: &[SessionId],
    config: &Config,
) -> QueryResult<std::collections::HashSet<SessionId>> {
    let at = now();
    let idle_cutoff = at - config.idle_timeout.as_secs() as i64;
    let age_cutoff = at - config.absolute_timeout.as_secs() as i64;
    Ok(sessions::table
        .filter(sessions::id.eq_any(ids))
        .filter(sessions::last_seen_at.ge(idle_cutoff))
        .filter(sessions::created_at.ge(age_cutoff))
        .select(sessions::id)
        .load::<SessionId>(conn)?
        .into_iter()
        .collect())
}

/// Every minute, forget the in-memory plaintext of sessions that ended in
/// any way: signed out on another server, ended from settings, expired, or
/// idle here past the timeout. Runs until the process stops.
pub async fn forget_ended_sessions(state: actix_web::web::Data<crate::web::state::AppState>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let held = state.memory.sessions();
        if held.is_empty() {
            continue;
        }
        let config = state.config.clone();
        let ids = held.clone();
        match state.db(move |conn| Ok(live(conn, &ids, &config)?)).await {
            Ok(alive) => state.memory.keep_only(&alive, state.config.idle_timeout),
            // Cannot tell which are alive: keep none rather than too many.
            Err(_) => state
                .memory
                .keep_only(&Default::default(), std::time::Duration::ZERO),
        }
    }
}

/// Delete sessions that expired without being seen again, auditing each.
pub fn sweep_expired(conn: &mut DbConn, config: &Config) -> QueryResult<usize> {
    let at = now();
    let idle_cutoff = at - config.idle_timeout.as_secs() as i64;
    let age_cutoff = at - config.absolute_timeout.as_secs() as i64;
    let expired: Vec<(SessionId, TherapistId)> = sessions::table
        .filter(
            sessions::last_seen_at
                .lt(idle_cutoff)
                .or(sessions::created_at.lt(age_cutoff)),
        )
        .select((sessions::id, sessions::therapist_id))
        .limit(500)
        .load(conn)?;
    for (id, therapist) in &expired {
        let deleted = diesel::delete(sessions::table.find(id)).execute(conn)?;
        if deleted == 1 {
            audit::record(conn, Some(*therapist), Action::SessionExpired, Some(id.0))?;
        }
    }
    Ok(expired.len())
}

/// Store a recovery code to show (sealed under this session's key) until
/// the therapist confirms they stored it.
pub fn set_pending_recovery_for(
    conn: &mut DbConn,
    token: &SessionToken,
    therapist: TherapistId,
    id: SessionId,
    code: &RecoveryCode,
) -> QueryResult<()> {
    let sealed = seal(
        &token.key(),
        &place(therapist, id, "pending_recovery_code"),
        code.as_bytes(),
    );
    diesel::update(sessions::table.find(id))
        .set(sessions::pending_recovery_code.eq(Some(sealed)))
        .execute(conn)
        .map(|_| ())
}

/// The second factor was given: the session is complete.
pub fn second_factor_done(conn: &mut DbConn, id: SessionId) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::needs_second_factor.eq(false))
        .execute(conn)
        .map(|_| ())
}

/// End every sign-in of a therapist that still waits for its two-factor code.
pub fn end_waiting(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::therapist_id.eq(therapist))
            .filter(sessions::needs_second_factor.eq(true)),
    )
    .execute(conn)
}

/// Keep the sign-in `token` just started and at most `keep - 1` other
/// sign-ins of the therapist that wait for their two-factor code, the
/// newest; end the rest.
pub fn cap_waiting(
    conn: &mut DbConn,
    therapist: TherapistId,
    token: &SessionToken,
    keep: i64,
) -> QueryResult<usize> {
    let waiting = || {
        sessions::table
            .filter(sessions::therapist_id.eq(therapist))
            .filter(sessions::needs_second_factor.eq(true))
    };
    let hash = token.id_hash();
    let mut kept: Vec<SessionId> = waiting()
        .filter(sessions::token_hash.ne(hash.as_slice()))
        .order((sessions::created_at.desc(), sessions::id.desc()))
        .limit((keep - 1).max(0))
        .select(sessions::id)
        .load(conn)?;
    kept.extend(
        waiting()
            .filter(sessions::token_hash.eq(hash.as_slice()))
            .select(sessions::id)
            .load::<SessionId>(conn)?,
    );
    diesel::delete(waiting().filter(sessions::id.ne_all(kept))).execute(conn)
}

/// A live session as listed on the settings page.
pub struct Listed {
    /// Row id.
    pub id: SessionId,
    /// Started.
    pub created_at: i64,
    /// Last seen.
    pub last_seen_at: i64,
    /// The browser, as it described itself.
    pub user_agent: String,
}

/// A therapist's live sessions, newest first.
pub fn list_for(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<Listed>> {
    let rows: Vec<(SessionId, i64, i64, Option<String>)> = sessions::table
        .filter(sessions::therapist_id.eq(therapist))
        .filter(sessions::needs_second_factor.eq(false))
        .order(sessions::last_seen_at.desc())
        .select((
            sessions::id,
            sessions::created_at,
            sessions::last_seen_at,
            sessions::user_agent,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, created_at, last_seen_at, ua)| Listed {
            id,
            created_at,
            last_seen_at,
            user_agent: ua.unwrap_or_default(),
        })
        .collect())
}

/// End one of a therapist's sessions. `false` if it was not theirs.
pub fn end_own(conn: &mut DbConn, therapist: TherapistId, id: SessionId) -> QueryResult<bool> {
    let n = diesel::delete(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::therapist_id.eq(therapist)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// End every session of a therapist but one.
pub fn end_others(
    conn: &mut DbConn,
    therapist: TherapistId,
    keep: SessionId,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::therapist_id.eq(therapist))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)
}
