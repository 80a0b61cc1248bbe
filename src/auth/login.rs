//! Checking a password and starting a session: one implementation for the
//! sign-in page and for signing in again to save work after a session ended.

use actix_web::{HttpRequest, web};

use super::{account, session, throttle};
use crate::audit::{self, Action};
use crate::crypto::session::SessionToken;
use crate::db::now;
use crate::ids::TherapistId;
use crate::web::client::{throttle_address, user_agent};
use crate::web::{AppError, AppState};

/// How a sign-in attempt ended (throttling and a busy server are errors).
pub enum Attempt {
    /// Signed in: a new session, for the cookie.
    Success {
        /// The new session's token.
        token: SessionToken,
        /// Who signed in.
        therapist: TherapistId,
    },
    /// Right password; the session waits for a two-factor code.
    SecondFactor {
        /// The waiting session's token, for the cookie.
        token: SessionToken,
    },
    /// Wrong email or password (indistinguishable by design).
    Failed,
    /// Right password, but the account is disabled.
    Disabled,
}

/// The message for a failed attempt.
pub const FAILED: &str =
    "That email and password do not match an account. Check both and try again.";
/// The message for a disabled account.
pub const DISABLED: &str =
    "This account has been disabled. Ask your practice's administrator to turn it back on.";

/// How long a refused sign-in (locked, or every Argon2id permit busy) waits
/// before its answer. Refusals cost the server almost nothing, so a flood
/// that gets them at once simply sends more: 64 connections made about 7,500
/// a second and filled both cores, and pages of signed-in therapists waited
/// for CPU. Waiting costs no CPU (a timer, not a thread), and holds each
/// flooding connection to about one try a second. A person who is locked out
/// waits one second longer for the page that says so.
pub const REFUSAL_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

async fn refusal_pause() {
    tokio::time::sleep(REFUSAL_PAUSE).await;
}

/// Check a password and, if right, start a new session. Locked accounts and
/// addresses get `TooManyRequests` without running Argon2id; a server out of
/// KDF permits answers `Unavailable` at once. Every password checked is
/// audited, and so is the failure that starts a lock.
pub async fn attempt(
    req: &HttpRequest,
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<Attempt, AppError> {
    let account_key = throttle::account_key(email);
    let address_key = throttle::address_key(&throttle_address(req, &state.config));
    let (lookup_email, keys) = (email.to_owned(), [account_key.clone(), address_key.clone()]);
    let (therapist, locked) = state
        .db(move |conn| {
            let therapist = account::find_by_email(conn, &lookup_email)?;
            // A try while locked is refused without a write: the lock's
            // start is audited where it happens, and writing a row per
            // refused try would let a flood grow the audit trail without
            // bound and queue every other write behind it.
            let locked = throttle::locked_for(conn, &[&keys[0], &keys[1]], now())?;
            Ok((therapist, locked))
        })
        .await?;
    if let Some(secs) = locked {
        refusal_pause().await;
        return Err(AppError::TooManyRequests(secs));
    }

    let permit = match state.kdf_permit() {
        Ok(permit) => permit,
        Err(busy) => {
            refusal_pause().await;
            return Err(busy);
        }
    };
    let password = password.to_owned();
    let (therapist, unlocked) = web::block(move || {
        let _permit = permit;
        let unlocked = match &therapist {
            Some(t) => t.unlock(&password).unwrap_or_else(|err| {
                tracing::error!(therapist = t.id.0, error = %err, "stored key-derivation parameters refused");
                None
            }),
            None => {
                crate::crypto::password::burn_dummy(&password);
                None
            }
        };
        (therapist, unlocked)
    })
    .await?;

    match (therapist, unlocked) {
        (Some(t), Some(dk)) if t.is_active() && t.totp_secret.is_some() => {
            // Nothing is recorded as a sign-in until the code is given too.
            let ua = user_agent(req);
            let id = t.id;
            let token = state
                .db(move |conn| {
                    let token = session::create_with(conn, id, &dk, None, ua.as_deref(), true)?;
                    session::cap_waiting(conn, id, &token, MAX_WAITING_SIGN_INS)?;
                    Ok(token)
                })
                .await?;
            Ok(Attempt::SecondFactor { token })
        }
        (Some(t), Some(dk)) if t.is_active() => {
            let ua = user_agent(req);
            let config = state.config.clone();
            let id = t.id;
            state.signed_in(id, &dk);
            let token = state
                .db(move |conn| {
                    let token = session::sign_in(conn, id, &dk, None, ua.as_deref())?;
                    throttle::clear(conn, &account_key)?;
                    session::sweep_expired(conn, &config)?;
                    Ok(token)
                })
                .await?;
            Ok(Attempt::Success {
                token,
                therapist: id,
            })
        }
        (Some(t), Some(_)) => {
            let id = t.id;
            state
                .db(move |conn| Ok(audit::record(conn, Some(id), Action::LoginFailed, None)?))
                .await?;
            Ok(Attempt::Disabled)
        }
        (therapist, _) => {
            let id = therapist.as_ref().map(|t| t.id);
            let locked = state
                .db(move |conn| Ok(failed(conn, id, &account_key, &address_key)?))
                .await?;
            match locked {
                Some(secs) => Err(AppError::TooManyRequests(secs)),
                None => Ok(Attempt::Failed),
            }
        }
    }
}

/// How many sign-ins of one account may wait for their two-factor code at
/// once. A new one past this ends the oldest: each waiting sign-in is a
/// place to guess codes, and nobody needs more than a few.
pub const MAX_WAITING_SIGN_INS: i64 = 3;

/// Count a failed sign-in step (a wrong password, code, backup code or
/// recovery code) against the account and the client address, and audit it.
/// When this failure locks the account, every sign-in of it that still waits
/// for a code ends too, so no waiting session is left to guess on. Returns
/// the lock's length when it locks.
pub fn failed(
    conn: &mut crate::db::DbConn,
    therapist: Option<TherapistId>,
    account_key: &[u8],
    address_key: &[u8],
) -> diesel::QueryResult<Option<i64>> {
    let at = now();
    let by_account = throttle::record_failure(conn, account_key, throttle::ACCOUNT, at)?;
    let by_address = throttle::record_failure(conn, address_key, throttle::ADDRESS, at)?;
    audit::record(conn, therapist, Action::LoginFailed, None)?;
    let locked = by_account.max(by_address);
    if locked.is_some() {
        audit::record(conn, therapist, Action::LoginLocked, None)?;
        if let Some(id) = therapist {
            session::end_waiting(conn, id)?;
        }
    }
    Ok(locked)
}

/// What a two-factor code did to a waiting sign-in.
#[derive(Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// Right: the sign-in is complete.
    Accepted,
    /// Wrong, used before, or not a code; counted as a failure.
    Refused,
    /// The account or address is locked (now or already): every waiting
    /// sign-in of the account has ended and no code was tried.
    Locked(i64),
}

/// Try a code (or a backup code) for a sign-in waiting for its second
/// factor. The account's lock is checked before any code is tried, and
/// failures count per account across every waiting sign-in, exactly like
/// wrong passwords.
pub fn second_factor(
    conn: &mut crate::db::DbConn,
    waiting: crate::ids::SessionId,
    therapist: TherapistId,
    dk: &crate::crypto::DataKey,
    code: &str,
    address: &str,
) -> diesel::QueryResult<SecondFactor> {
    let email = account::find(conn, therapist)?
        .map(|t| t.email)
        .unwrap_or_default();
    let (account_key, address_key) = (
        throttle::account_key(&email),
        throttle::address_key(address),
    );
    if let Some(secs) = throttle::locked_for(conn, &[&account_key, &address_key], now())? {
        session::end_waiting(conn, therapist)?;
        return Ok(SecondFactor::Locked(secs));
    }
    let unix = u64::try_from(now()).unwrap_or(0);
    match super::totp::check(conn, therapist, dk, code, unix)? {
        super::totp::Check::Refused => Ok(
            match failed(conn, Some(therapist), &account_key, &address_key)? {
                Some(secs) => SecondFactor::Locked(secs),
                None => SecondFactor::Refused,
            },
        ),
        super::totp::Check::Accepted | super::totp::Check::BackupUsed => {
            session::second_factor_done(conn, waiting)?;
            account::mark_login(conn, therapist, now())?;
            throttle::clear(conn, &account_key)?;
            audit::record(conn, Some(therapist), Action::LoginOk, None)?;
            crate::sharing::grants::at_sign_in(conn, therapist, dk)?;
            Ok(SecondFactor::Accepted)
        }
    }
}

/// Check the signed-in therapist's password before a change that needs it
/// (a new password, two-factor, an export), throttled and audited exactly
/// like signing in. `Ok(true)` when right.
pub async fn confirm_password(
    req: &HttpRequest,
    state: &AppState,
    therapist: TherapistId,
    password: &str,
) -> Result<bool, AppError> {
    let account = state
        .db(move |conn| Ok(account::find(conn, therapist)?))
        .await?
        .ok_or_else(AppError::not_found)?;
    let key = throttle::account_key(&account.email);
    let k = key.clone();
    if let Some(secs) = state
        .db(move |conn| Ok(throttle::locked_for(conn, &[&k], now())?))
        .await?
    {
        return Err(AppError::TooManyRequests(secs));
    }
    let permit = state.kdf_permit()?;
    let password = password.to_owned();
    let right = web::block(move || {
        let _permit = permit;
        account.unlock(&password).ok().flatten().is_some()
    })
    .await?;
    if right {
        return Ok(true);
    }
    let address = throttle::address_key(&throttle_address(req, &state.config));
    match state
        .db(move |conn| Ok(failed(conn, Some(therapist), &key, &address)?))
        .await?
    {
        Some(secs) => Err(AppError::TooManyRequests(secs)),
        None => Ok(false),
    }
}
